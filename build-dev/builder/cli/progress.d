build-dev/builder/cli/progress.o: builder/cli/progress.c \
 builder/cli/cli.h builder/basic/error.h builder/basic/util.h \
 builder/cache/cache.h builder/media/fetch.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/finish/manifest.h builder/finish/inspect.h builder/media/media.h \
 builder/media/snapshot.h builder/media/archive-index.h \
 builder/proxy/proxy.h builder/pipeline/pipeline.h \
 builder/install/install-log.h
builder/cli/cli.h:
builder/basic/error.h:
builder/basic/util.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/finish/manifest.h:
builder/finish/inspect.h:
builder/media/media.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/proxy/proxy.h:
builder/pipeline/pipeline.h:
builder/install/install-log.h:
