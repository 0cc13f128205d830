/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Event record shared by tapio.bpf.c (kernel side) and the Rust collector
 * (user side, which decodes this layout by field offset in
 * crates/collectors/src/node_agents/ebpf/event.rs). Keep field order,
 * types and size in sync with the Rust definition.
 */
#ifndef __TAPIO_EVENT_H__
#define __TAPIO_EVENT_H__

#if !defined(__bpf__) && !defined(__TAPIO_VMLINUX_MIN_H__)
#include <linux/types.h> /* user-space C consumers */
#endif

enum tapio_event_kind {
	TAPIO_OOM_KILL = 1,
	TAPIO_PROCESS_EXIT = 2,
	TAPIO_TCP_CONNECT_FAILED = 3,
	TAPIO_TCP_RESET = 4,
	TAPIO_TCP_RETRANSMIT = 5,
};

struct tapio_event {
	__u64 ts_boot_ns;         /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;          /* kernfs id of the task's memory-controller cgroup (v1 memory hierarchy, or the v2 cgroup), 0 if unknown */
	__u64 memcg_limit_pages;  /* oom_kill: the victim memcg's memory.max (page_counter max), in pages; 0 otherwise */
	__u32 kind;               /* enum tapio_event_kind */
	__u32 pid;                /* tgid of the task (victim for oom_kill; socket owner for tcp events, 0 if unknown) */
	__s32 exit_code;          /* process_exit: (task->exit_code >> 8) & 0xff */
	__s32 signal;             /* process_exit: task->exit_code & 0x7f */
	__s32 err;                /* tcp_connect_failed: sk->sk_err (positive errno, e.g. 111) */
	__u16 family;             /* AF_INET (2) or AF_INET6 (10) */
	__u16 sport;              /* host byte order */
	__u16 dport;              /* host byte order */
	__u16 state;              /* tcp_retransmit/tcp_reset: TCP state of the socket */
	__u32 srtt_us;            /* tcp events: smoothed RTT of the connection in microseconds (tcp_sock srtt_us >> 3), 0 if none yet */
	__u8 saddr[16];           /* IPv4 in the first 4 bytes, network order */
	__u8 daddr[16];
	char comm[16];
};

/* 3*8 + 5*4 + 4*2 + 4 + 3*16 = 104 bytes, 8-byte aligned, no implicit padding. */
_Static_assert(sizeof(struct tapio_event) == 104, "struct tapio_event must be 104 bytes");

#endif /* __TAPIO_EVENT_H__ */
