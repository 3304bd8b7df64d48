build-dev/builder/basic/hash.o: builder/basic/hash.c builder/basic/hash.h \
 builder/basic/error.h builder/basic/util.h
builder/basic/hash.h:
builder/basic/error.h:
builder/basic/util.h:
