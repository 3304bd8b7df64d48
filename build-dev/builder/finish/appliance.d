build-dev/builder/finish/appliance.o: builder/finish/appliance.c \
 builder/finish/appliance.h builder/basic/error.h builder/basic/util.h \
 builder/finish/image-format.h builder/sandbox/leftovers.h \
 builder/sandbox/sandbox.h
builder/finish/appliance.h:
builder/basic/error.h:
builder/basic/util.h:
builder/finish/image-format.h:
builder/sandbox/leftovers.h:
builder/sandbox/sandbox.h:
