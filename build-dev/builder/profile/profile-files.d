build-dev/builder/profile/profile-files.o: \
 builder/profile/profile-files.c builder/profile/profile-files.h \
 builder/basic/error.h builder/basic/util.h
builder/profile/profile-files.h:
builder/basic/error.h:
builder/basic/util.h:
