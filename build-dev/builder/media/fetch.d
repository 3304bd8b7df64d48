build-dev/builder/media/fetch.o: builder/media/fetch.c \
 builder/media/fetch.h builder/basic/error.h builder/basic/util.h \
 builder/basic/addr-policy.h
builder/media/fetch.h:
builder/basic/error.h:
builder/basic/util.h:
builder/basic/addr-policy.h:
