build-dev/builder/serve/serve-webhook.o: builder/serve/serve-webhook.c \
 builder/basic/addr-policy.h builder/serve/serve-internal.h \
 builder/serve/serve.h builder/basic/error.h builder/basic/util.h
builder/basic/addr-policy.h:
builder/serve/serve-internal.h:
builder/serve/serve.h:
builder/basic/error.h:
builder/basic/util.h:
