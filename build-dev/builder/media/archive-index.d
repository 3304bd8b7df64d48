build-dev/builder/media/archive-index.o: builder/media/archive-index.c \
 builder/media/archive-index.h builder/basic/error.h builder/basic/util.h \
 builder/basic/command.h builder/sandbox/sandbox.h
builder/media/archive-index.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/command.h:
builder/sandbox/sandbox.h:
