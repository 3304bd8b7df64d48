build-dev/builder/basic/util.o: builder/basic/util.c builder/basic/util.h \
 builder/basic/error.h
builder/basic/util.h:
builder/basic/error.h:
