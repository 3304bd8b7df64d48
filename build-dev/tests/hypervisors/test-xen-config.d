build-dev/tests/hypervisors/test-xen-config.o: \
 tests/hypervisors/test-xen-config.c hypervisors/xen.h hypervisors/hv.h \
 builder/basic/error.h builder/basic/util.h
hypervisors/xen.h:
hypervisors/hv.h:
builder/basic/error.h:
builder/basic/util.h:
