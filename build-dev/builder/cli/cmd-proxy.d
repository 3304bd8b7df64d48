build-dev/builder/cli/cmd-proxy.o: builder/cli/cmd-proxy.c \
 builder/proxy/proxy.h builder/cache/cache.h builder/media/fetch.h \
 builder/basic/error.h builder/basic/util.h builder/basic/hash.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/sandbox/sandbox.h builder/media/snapshot.h \
 builder/media/archive-index.h builder/cli/cli.h
builder/proxy/proxy.h:
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/sandbox/sandbox.h:
builder/media/snapshot.h:
builder/media/archive-index.h:
builder/cli/cli.h:
