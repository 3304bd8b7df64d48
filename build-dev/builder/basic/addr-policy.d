build-dev/builder/basic/addr-policy.o: builder/basic/addr-policy.c \
 builder/basic/addr-policy.h builder/basic/util.h
builder/basic/addr-policy.h:
builder/basic/util.h:
