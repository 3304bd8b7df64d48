build-dev/builder/cli/cmd-build.o: builder/cli/cmd-build.c \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h builder/finish/finish.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/install/install.h builder/install/install-log.h \
 builder/media/media.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/proxy/proxy.h \
 builder/pipeline/pipeline.h builder/finish/manifest.h \
 builder/finish/inspect.h hypervisors/qemu.h hypervisors/hv.h \
 builder/cli/cli.h builder/cli/build-reuse.h builder/key/key.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/finish/finish.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/install/install.h:
builder/install/install-log.h:
builder/media/media.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
builder/pipeline/pipeline.h:
builder/finish/manifest.h:
builder/finish/inspect.h:
hypervisors/qemu.h:
hypervisors/hv.h:
builder/cli/cli.h:
builder/cli/build-reuse.h:
builder/key/key.h:
