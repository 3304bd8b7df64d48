build-dev/builder/serve/serve-db.o: builder/serve/serve-db.c \
 builder/serve/serve-internal.h builder/serve/serve.h \
 builder/basic/error.h builder/basic/util.h
builder/serve/serve-internal.h:
builder/serve/serve.h:
builder/basic/error.h:
builder/basic/util.h:
