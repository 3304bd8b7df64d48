build-dev/builder/serve/serve.o: builder/serve/serve.c \
 builder/basic/addr-policy.h builder/media/fetch.h builder/basic/error.h \
 builder/basic/util.h builder/serve/serve-internal.h \
 builder/serve/serve.h
builder/basic/addr-policy.h:
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/serve/serve-internal.h:
builder/serve/serve.h:
