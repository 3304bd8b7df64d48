build-dev/builder/sandbox/leftovers.o: builder/sandbox/leftovers.c \
 builder/sandbox/leftovers.h builder/basic/error.h builder/basic/util.h \
 builder/sandbox/sandbox.h
builder/sandbox/leftovers.h:
builder/basic/error.h:
builder/basic/util.h:
builder/sandbox/sandbox.h:
