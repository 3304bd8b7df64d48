build-dev/builder/basic/command.o: builder/basic/command.c \
 builder/basic/command.h builder/basic/error.h builder/basic/util.h \
 builder/sandbox/sandbox.h
builder/basic/command.h:
builder/basic/error.h:
builder/basic/util.h:
builder/sandbox/sandbox.h:
