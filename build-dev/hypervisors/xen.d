build-dev/hypervisors/xen.o: hypervisors/xen.c builder/basic/command.h \
 builder/basic/error.h builder/basic/util.h builder/sandbox/sandbox.h \
 hypervisors/xen.h hypervisors/hv.h
builder/basic/command.h:
builder/basic/error.h:
builder/basic/util.h:
builder/sandbox/sandbox.h:
hypervisors/xen.h:
hypervisors/hv.h:
