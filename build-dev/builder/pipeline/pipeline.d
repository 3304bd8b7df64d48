build-dev/builder/pipeline/pipeline.o: builder/pipeline/pipeline.c \
 builder/pipeline/pipeline.h builder/basic/hash.h builder/basic/error.h \
 builder/basic/util.h builder/install/install-log.h \
 builder/finish/manifest.h builder/finish/inspect.h builder/media/media.h \
 builder/cache/cache.h builder/media/fetch.h builder/profile/profile.h \
 builder/profile/node.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/proxy/proxy.h \
 builder/finish/appliance-accel.h builder/finish/boot-test.h \
 builder/basic/command.h builder/sandbox/sandbox.h \
 builder/finish/finish.h builder/install/install.h \
 builder/sandbox/leftovers.h hypervisors/qemu.h hypervisors/hv.h
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
builder/finish/appliance-accel.h:
builder/finish/boot-test.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
builder/finish/finish.h:
builder/install/install.h:
builder/sandbox/leftovers.h:
hypervisors/qemu.h:
hypervisors/hv.h:
