build-dev/builder/sandbox/sandbox.o: builder/sandbox/sandbox.c \
 builder/sandbox/sandbox.h builder/basic/error.h builder/basic/util.h
builder/sandbox/sandbox.h:
builder/basic/error.h:
builder/basic/util.h:
