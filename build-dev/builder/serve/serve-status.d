build-dev/builder/serve/serve-status.o: builder/serve/serve-status.c \
 builder/basic/hash.h builder/basic/error.h builder/basic/util.h \
 builder/serve/serve-internal.h builder/serve/serve.h
builder/basic/hash.h:
builder/basic/error.h:
builder/basic/util.h:
builder/serve/serve-internal.h:
builder/serve/serve.h:
