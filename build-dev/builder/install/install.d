build-dev/builder/install/install.o: builder/install/install.c \
 builder/install/install.h builder/install/install-log.h \
 builder/basic/error.h builder/basic/util.h builder/media/media.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 builder/proxy/proxy.h hypervisors/hv.h builder/basic/command.h \
 builder/sandbox/sandbox.h builder/sandbox/leftovers.h
builder/install/install.h:
builder/install/install-log.h:
builder/basic/error.h:
builder/basic/util.h:
builder/media/media.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
hypervisors/hv.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
builder/sandbox/leftovers.h:
