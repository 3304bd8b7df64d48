build-dev/builder/cli/cmd-install.o: builder/cli/cmd-install.c \
 builder/pipeline/pipeline.h builder/basic/hash.h builder/basic/error.h \
 builder/basic/util.h builder/install/install-log.h \
 builder/finish/manifest.h builder/finish/inspect.h builder/media/media.h \
 builder/cache/cache.h builder/media/fetch.h builder/profile/profile.h \
 builder/profile/node.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/proxy/proxy.h hypervisors/qemu.h \
 hypervisors/hv.h builder/cli/cli.h
builder/pipeline/pipeline.h:
builder/basic/hash.h:
builder/basic/error.h:
builder/basic/util.h:
builder/install/install-log.h:
builder/finish/manifest.h:
builder/finish/inspect.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
hypervisors/qemu.h:
hypervisors/hv.h:
builder/cli/cli.h:
