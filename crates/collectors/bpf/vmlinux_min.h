/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vmlinux_min.h - hand-written MINIMAL kernel type definitions for tapio.bpf.c.
 *
 * This replaces a full `bpftool btf dump file /sys/kernel/btf/vmlinux format c`
 * (~3 MB). Every struct carries __attribute__((preserve_access_index)), so
 * clang emits CO-RE relocations and libbpf resolves each field BY NAME against
 * the running kernel's BTF at load time. Local field order/offsets/padding here
 * are therefore irrelevant; only names and (compatible) types matter. Fields that
 * live inside anonymous unions/structs in the kernel may be declared flat here:
 * libbpf descends into anonymous members when matching names.
 *
 * Add a field here only if tapio.bpf.c reads it.
 */
#ifndef __TAPIO_VMLINUX_MIN_H__
#define __TAPIO_VMLINUX_MIN_H__

/* ---- basic typedefs: include/uapi/asm-generic/int-ll64.h, include/uapi/linux/types.h,
 *      include/linux/types.h. Needed by <bpf/bpf_helpers.h>, <bpf/bpf_helper_defs.h>,
 *      <bpf/bpf_tracing.h>, <bpf/bpf_core_read.h>, <bpf/bpf_endian.h>. ---- */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef unsigned short int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef unsigned long long int __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef int pid_t;            /* include/linux/types.h (__kernel_pid_t) */
typedef unsigned int uid_t;   /* include/linux/types.h (__kernel_uid32_t) */
typedef _Bool bool;
enum { false = 0, true = 1 };

/* ---- include/uapi/linux/bpf.h (stable UAPI values, not relocated) ---- */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

/* ---- include/linux/socket.h, include/uapi/linux/in.h, include/net/tcp_states.h (ABI) ---- */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* ---- include/linux/cgroup_subsys.h via include/linux/cgroup-defs.h.
 * The numeric value depends on the kernel config (which controllers are built in);
 * 4 is merely the value on a common x86_64 config. Read it ONLY through
 * bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id) so libbpf relocates it. ---- */
enum cgroup_subsys_id {
	memory_cgrp_id = 4,
};

/* ---- include/linux/kernfs.h ---- */
struct kernfs_node {
	__u64 id; /* on 64-bit: == inode number of the cgroup directory (kernfs_id_ino) */
} __attribute__((preserve_access_index));

/* ---- include/linux/cgroup-defs.h ---- */
struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct css_set {
	/* size is CGROUP_SUBSYS_COUNT in the kernel; only the field offset is relocated */
	struct cgroup_subsys_state *subsys[12];
} __attribute__((preserve_access_index));

/* ---- include/linux/page_counter.h ---- */
struct page_counter {
	unsigned long max; /* limit in pages (memory.max / v1 memory.limit_in_bytes) */
} __attribute__((preserve_access_index));

/* ---- include/linux/memcontrol.h. `css` is the FIRST member of struct mem_cgroup,
 * so a memory-controller css pointer is also a struct mem_cgroup pointer. ---- */
struct mem_cgroup {
	struct cgroup_subsys_state css;
	struct page_counter memory;
} __attribute__((preserve_access_index));

/* ---- include/linux/sched.h ---- */
struct task_struct {
	int exit_code;
	pid_t pid;
	pid_t tgid;
	char comm[16]; /* TASK_COMM_LEN */
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

/* ---- include/uapi/linux/in6.h ---- */
struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));

/* ---- include/net/sock.h. In the kernel skc_daddr/skc_rcv_saddr and
 * skc_dport/skc_num sit inside anonymous unions; declared flat here. ---- */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;              /* network byte order */
	__u16 skc_num;                 /* local port, host byte order */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;      /* CONFIG_IPV6 */
	struct in6_addr skc_v6_rcv_saddr;  /* CONFIG_IPV6 */
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	__u16 sk_protocol; /* a plain u16 since v5.6 */
} __attribute__((preserve_access_index));

/* ---- include/net/inet_sock.h. `sk` is the first member, so a TCP/UDP struct sock
 * pointer is also a struct inet_sock pointer. inet_sport survives inet_put_port(),
 * which zeroes skc_num before the TCP_CLOSE state change is traced. ---- */
struct inet_sock {
	struct sock sk;
	__be16 inet_sport; /* network byte order */
} __attribute__((preserve_access_index));

/* ---- include/linux/tcp.h. A TCP struct sock pointer is also a struct tcp_sock
 * pointer; srtt_us holds the smoothed RTT in microseconds, shifted left by 3. ---- */
struct tcp_sock {
	__u32 srtt_us;
} __attribute__((preserve_access_index));

/* Only passed through as an opaque tracepoint argument. */
struct sk_buff;

#endif /* __TAPIO_VMLINUX_MIN_H__ */
