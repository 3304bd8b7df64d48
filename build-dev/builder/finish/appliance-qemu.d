build-dev/builder/finish/appliance-qemu.o: \
 builder/finish/appliance-qemu.c builder/finish/appliance.h \
 builder/basic/error.h builder/basic/util.h builder/sandbox/sandbox.h
builder/finish/appliance.h:
builder/basic/error.h:
builder/basic/util.h:
builder/sandbox/sandbox.h:
