build-dev/builder/serve/serve-tokens.o: builder/serve/serve-tokens.c \
 builder/basic/hash.h builder/basic/error.h builder/basic/util.h \
 builder/profile/profile.h builder/profile/node.h \
 builder/serve/serve-internal.h builder/serve/serve.h
builder/basic/hash.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/profile.h:
builder/profile/node.h:
builder/serve/serve-internal.h:
builder/serve/serve.h:
