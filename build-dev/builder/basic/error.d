build-dev/builder/basic/error.o: builder/basic/error.c \
 builder/basic/error.h builder/basic/util.h
builder/basic/error.h:
builder/basic/util.h:
