build-dev/builder/profile/apt-sources.o: builder/profile/apt-sources.c \
 builder/profile/apt-sources.h builder/basic/error.h builder/basic/util.h
builder/profile/apt-sources.h:
builder/basic/error.h:
builder/basic/util.h:
