build-dev/builder/profile/profile.o: builder/profile/profile.c \
 builder/profile/profile.h builder/profile/node.h builder/basic/error.h \
 builder/basic/util.h builder/profile/apt-sources.h \
 builder/profile/profile-schema.h builder/profile/profile-files.h
builder/profile/profile.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/apt-sources.h:
builder/profile/profile-schema.h:
builder/profile/profile-files.h:
