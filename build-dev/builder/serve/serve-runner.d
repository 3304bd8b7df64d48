build-dev/builder/serve/serve-runner.o: builder/serve/serve-runner.c \
 builder/serve/serve-internal.h builder/serve/serve.h \
 builder/basic/error.h builder/basic/util.h
builder/serve/serve-internal.h:
builder/serve/serve.h:
builder/basic/error.h:
builder/basic/util.h:
