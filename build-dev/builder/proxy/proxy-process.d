build-dev/builder/proxy/proxy-process.o: builder/proxy/proxy-process.c \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h builder/basic/command.h \
 builder/sandbox/sandbox.h builder/proxy/proxy.h \
 builder/profile/profile.h builder/profile/node.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
builder/proxy/proxy.h:
builder/profile/profile.h:
builder/profile/node.h:
