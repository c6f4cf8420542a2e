# Read after the KVM selftests Makefile: builds every *.c of
# $(EXTRA_SELFTESTS_DIR) like an in-tree test, into $(OUTPUT)/extra/.
EXTRA_SELFTESTS_PROGS := $(patsubst $(EXTRA_SELFTESTS_DIR)/%.c,$(OUTPUT)/extra/%,\
			   $(wildcard $(EXTRA_SELFTESTS_DIR)/*.c))

$(EXTRA_SELFTESTS_PROGS): $(OUTPUT)/extra/%: $(EXTRA_SELFTESTS_DIR)/%.c $(LIBKVM_OBJS) $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH) $< $(LIBKVM_OBJS) $(LDLIBS) -o $@

extra-selftests: $(EXTRA_SELFTESTS_PROGS)
.PHONY: extra-selftests
