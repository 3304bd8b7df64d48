build-dev/builder/cli/cmd-boot-test.o: builder/cli/cmd-boot-test.c \
 builder/finish/boot-test.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/install/install.h builder/install/install-log.h \
 builder/media/media.h builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 builder/proxy/proxy.h hypervisors/qemu.h hypervisors/hv.h \
 builder/cli/cli.h
builder/finish/boot-test.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/install/install.h:
builder/install/install-log.h:
builder/media/media.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
hypervisors/qemu.h:
hypervisors/hv.h:
builder/cli/cli.h:
