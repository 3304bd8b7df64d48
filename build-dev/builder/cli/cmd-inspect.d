build-dev/builder/cli/cmd-inspect.o: builder/cli/cmd-inspect.c \
 builder/finish/appliance-accel.h builder/cache/cache.h \
 builder/media/fetch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/hash.h builder/finish/boot-test.h \
 builder/finish/image-format.h builder/finish/inspect.h \
 builder/install/install.h builder/install/install-log.h \
 builder/media/media.h builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 builder/proxy/proxy.h hypervisors/qemu.h hypervisors/hv.h \
 builder/cli/cli.h
builder/finish/appliance-accel.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/finish/boot-test.h:
builder/finish/image-format.h:
builder/finish/inspect.h:
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
