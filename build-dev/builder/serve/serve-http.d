build-dev/builder/serve/serve-http.o: builder/serve/serve-http.c \
 builder/cache/cache.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/basic/hash.h preseed-gen/preseed.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/serve/serve-internal.h builder/serve/serve.h
builder/cache/cache.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/hash.h:
preseed-gen/preseed.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/serve/serve-internal.h:
builder/serve/serve.h:
