build-dev/builder/profile/profile-schema.o: \
 builder/profile/profile-schema.c builder/profile/profile-schema.h \
 builder/profile/node.h builder/basic/error.h builder/basic/util.h \
 builder/profile/profile-files.h builder/basic/addr-policy.h \
 builder/profile/profile.h
builder/profile/profile-schema.h:
builder/profile/node.h:
builder/basic/error.h:
builder/basic/util.h:
builder/profile/profile-files.h:
builder/basic/addr-policy.h:
builder/profile/profile.h:
