// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tapio.bpf.c - CO-RE eBPF probes for the Tapio collectors.
 *
 * Build (from the repository root):
 *   clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I crates/collectors/bpf \
 *     -c crates/collectors/bpf/tapio.bpf.c -o /tmp/tapio.bpf.o
 *
 * Only BTF raw tracepoints (tp_btf) are used: no kprobes, no fentry/fexit.
 * All kernel struct reads go through BPF_CORE_READ (CO-RE, see vmlinux_min.h).
 *
 * Programs:
 *   tp_btf/mark_victim          -> TAPIO_OOM_KILL
 *   tp_btf/sched_process_exit   -> TAPIO_PROCESS_EXIT (group leaders, exit_code != 0)
 *   tp_btf/inet_sock_set_state  -> owner tracking + TAPIO_TCP_CONNECT_FAILED
 *   tp_btf/tcp_receive_reset    -> TAPIO_TCP_RESET
 *   tp_btf/tcp_retransmit_skb   -> TAPIO_TCP_RETRANSMIT
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tapio_event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Owner of a socket, recorded in process context when it enters SYN_SENT. */
struct sock_owner {
	__u32 pid; /* tgid */
	__u32 _pad;
	__u64 cgroup_id;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* userspace may resize before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock pointer */
	__type(value, struct sock_owner);
} sock_owners SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&drops, &zero);

	if (cnt)
		*cnt += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline struct tapio_event *reserve_event(__u32 kind)
{
	struct tapio_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop();
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	return e;
}

/* The task's memory-controller css (v1 memory hierarchy or v2), or NULL. */
static __always_inline struct cgroup_subsys_state *task_memcg_css(struct task_struct *task)
{
	struct cgroup_subsys_state *css = 0;
	struct css_set *cset;
	int id;

	if (!task || !bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	if (id < 0 || id >= 64)
		return 0;
	cset = BPF_CORE_READ(task, cgroups);
	if (!cset)
		return 0;
	bpf_core_read(&css, sizeof(css), &cset->subsys[id]);
	return css;
}

static __always_inline __u64 css_cgroup_id(struct cgroup_subsys_state *css)
{
	if (!css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

static __always_inline void fill_sock(struct tapio_event *e, const struct sock *sk, __u16 family)
{
	e->family = family;
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!e->sport) /* already unhashed (TCP_CLOSE): skc_num was zeroed by inet_put_port() */
		e->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->srtt_us = BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us) >> 3;
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__be32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* Returns the family if sk is an AF_INET/AF_INET6 TCP socket, else 0. */
static __always_inline __u16 tcp_family(const struct sock *sk)
{
	__u16 family;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return family;
}

static __always_inline void fill_owner(struct tapio_event *e, const struct sock *sk)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);

	if (!o)
		return; /* unknown owner: pid 0, cgroup 0, comm empty */
	e->pid = o->pid;
	e->cgroup_id = o->cgroup_id;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
}

SEC("tp_btf/mark_victim")
int BPF_PROG(handle_mark_victim, struct task_struct *task)
{
	struct cgroup_subsys_state *css;
	struct tapio_event *e;

	e = reserve_event(TAPIO_OOM_KILL);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_INTO(&e->comm, task, comm);
	css = task_memcg_css(task);
	if (css) {
		e->cgroup_id = css_cgroup_id(css);
		/* css is the first member of struct mem_cgroup */
		e->memcg_limit_pages = BPF_CORE_READ((struct mem_cgroup *)css, memory.max);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_process_exit, struct task_struct *task)
{
	struct tapio_event *e;
	int code;

	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0; /* thread-group leaders only */
	code = BPF_CORE_READ(task, exit_code);
	if (code == 0)
		return 0;

	e = reserve_event(TAPIO_PROCESS_EXIT);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(task, tgid);
	e->exit_code = (code >> 8) & 0xff;
	e->signal = code & 0x7f;
	BPF_CORE_READ_INTO(&e->comm, task, comm);
	e->cgroup_id = css_cgroup_id(task_memcg_css(task));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)(unsigned long)sk;
	struct tapio_event *e;
	__u16 family;

	family = tcp_family(sk);
	if (!family)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		/* connect(): process context, current is the owner */
		struct task_struct *task = bpf_get_current_task_btf();
		struct sock_owner o = {};

		o.pid = bpf_get_current_pid_tgid() >> 32;
		o.cgroup_id = css_cgroup_id(task_memcg_css(task));
		bpf_get_current_comm(&o.comm, sizeof(o.comm));
		bpf_map_update_elem(&sock_owners, &key, &o, BPF_ANY);
		return 0;
	}

	if (newstate != TCP_CLOSE)
		return 0;

	if (oldstate == TCP_SYN_SENT) {
		/* may run in softirq context: owner comes from the map */
		e = reserve_event(TAPIO_TCP_CONNECT_FAILED);
		if (e) {
			fill_sock(e, sk, family);
			e->state = newstate;
			fill_owner(e, sk);
			e->err = BPF_CORE_READ(sk, sk_err);
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&sock_owners, &key);
	return 0;
}

/* A TCP event about sk's connection, attributed to its owner when known. */
static __always_inline int emit_tcp(const struct sock *sk, __u32 kind)
{
	struct tapio_event *e;
	__u16 family;

	family = tcp_family(sk);
	if (!family)
		return 0;
	e = reserve_event(kind);
	if (!e)
		return 0;
	fill_sock(e, sk, family);
	fill_owner(e, sk);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_tcp_receive_reset, struct sock *sk)
{
	return emit_tcp(sk, TAPIO_TCP_RESET);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_tcp_retransmit_skb, const struct sock *sk)
{
	return emit_tcp(sk, TAPIO_TCP_RETRANSMIT);
}
