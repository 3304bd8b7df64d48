build-dev/builder/finish/image-format.o: builder/finish/image-format.c \
 builder/finish/image-format.h builder/basic/error.h builder/basic/util.h
builder/finish/image-format.h:
builder/basic/error.h:
builder/basic/util.h:
