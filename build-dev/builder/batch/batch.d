build-dev/builder/batch/batch.o: builder/batch/batch.c \
 builder/batch/batch.h builder/basic/error.h builder/basic/util.h
builder/batch/batch.h:
builder/basic/error.h:
builder/basic/util.h:
