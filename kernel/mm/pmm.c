/*
 * pmm.c - per-node frame states over a bitmap or buddy allocator (see pmm.h).
 *
 * Invariants of a node (checked by pmm_node_check in tests):
 *   - count[s] = number of frames whose state byte is s; they sum to nframes;
 *   - a frame is in the allocator exactly when its state is FRAME_FREE.
 * Ownership checks (double free, freeing reserved or another kind's frames)
 * happen here, against the state byte, before the allocator is touched.
 */
#include "mm/pmm.h"
#include "mm/physmem.h"
#include "panic.h"
#include "printk.h"
#ifdef __FERROUS_KERNEL__
#include "ksyms.h"
#endif

/* Name of a frame state. */
const char *frame_state_name(enum frame_state s)
{
	static const char *const names[FRAME_STATE_COUNT] = {
		"FREE", "ALLOCATED", "PAGETABLE", "HEAP", "RESERVED", "KERNEL", "LOADER", "ABSENT",
	};
	return (unsigned)s < FRAME_STATE_COUNT ? names[s] : "INVALID";
}

/* Name of an allocator kind. */
const char *pmm_kind_name(enum pmm_kind k)
{
	return k == PMM_BITMAP ? "bitmap" : "buddy";
}

/* Whether s is a kind a holder owns and may free. */
static bool is_owned(enum frame_state s)
{
	return s == FRAME_ALLOCATED || s == FRAME_PAGETABLE || s == FRAME_HEAP;
}

const char *(*mm_symbolize)(uintptr_t addr);

/* The caller as text: mm_symbolize's answer if set, else the kernel symbol table (host: the raw address). */
static const char *caller_name(uintptr_t caller, char *buf, size_t n)
{
	if (mm_symbolize) {
		const char *s = mm_symbolize(caller);
		if (s)
			return s;
	}
#ifdef __FERROUS_KERNEL__
	return ksym_format(buf, n, (uint64_t)caller);   /* "name+0xoff", or the raw address */
#else
	snprintk(buf, n, "0x%lx", (uint64_t)caller);
	return buf;
#endif
}

/* ---- allocator dispatch: the only place that knows both kinds ---- */

/* Returns [pfn, pfn + count) to n's allocator (none of it free there). */
static void alloc_free(struct pmm_node *n, uint64_t pfn, uint64_t count)
{
	if (n->kind == PMM_BITMAP)
		bitmap_free(&n->alloc.bitmap, pfn, count);
	else
		buddy_free(&n->alloc.buddy, pfn, count);
}

/* Removes [pfn, pfn + count) from n's allocator (all of it free there). */
static void alloc_take(struct pmm_node *n, uint64_t pfn, uint64_t count)
{
	if (n->kind == PMM_BITMAP)
		bitmap_take(&n->alloc.bitmap, pfn, count);
	else
		buddy_take(&n->alloc.buddy, pfn, count);
}

/* Takes a run of count frames aligned to align from n's allocator; false if none. */
static bool alloc_run(struct pmm_node *n, uint64_t count, uint64_t align, uint64_t *out)
{
	if (n->kind == PMM_BITMAP)
		return bitmap_alloc(&n->alloc.bitmap, count, align, out);
	return buddy_alloc(&n->alloc.buddy, count, align, out);
}

/* Whether n's allocator holds frame pfn as free. */
static bool alloc_is_free(const struct pmm_node *n, uint64_t pfn)
{
	if (n->kind == PMM_BITMAP)
		return bitmap_is_free(&n->alloc.bitmap, pfn);
	return buddy_is_free(&n->alloc.buddy, pfn);
}

/* Free frames according to n's allocator. */
static uint64_t alloc_free_frames(const struct pmm_node *n)
{
	return n->kind == PMM_BITMAP ? n->alloc.bitmap.free_frames : n->alloc.buddy.free_frames;
}

/* Whether the debug fills are on for n (MM_DEBUG_FILL builds, and the node asked for them). */
static inline bool fills_on(const struct pmm_node *n)
{
	return MM_DEBUG_FILL && n->debug_fill;
}

/* Frame pfn's words through the window: one lookup. Every frame a node fills or checks is one it hands out or
 * takes back, and the window reaches all of those (pmm_map holds back RAM beyond it as LOADER until the window
 * grows); a frame outside it is a bug and phys_to_virt panics naming it. */
static volatile uint64_t *frame_words(uint64_t frame)
{
	return phys_to_virt(pfn_to_paddr(pfn(frame)));
}

/* fill_frame: every byte of frame f set to `byte`. */
static void fill_frame(uint64_t f, uint8_t byte)
{
	uint64_t word = 0x0101010101010101ULL * byte;
	volatile uint64_t *w = frame_words(f);
	for (uint64_t j = 0; j < PAGE_SIZE / 8; j++)
		w[j] = word;
}

/* Freed frames: fill with MM_FILL_FREED and mark them poisoned (debug builds). */
static void poison_frames(struct pmm_node *n, uint64_t start, uint64_t count)
{
	if (!fills_on(n))
		return;
	for (uint64_t f = start; f < start + count; f++) {
		fill_frame(f, MM_FILL_FREED);
		uint64_t i = f - n->base_pfn;
		n->poisoned[i / 64] |= 1ULL << (i % 64);
	}
}

/* Frames whose poisoned bits one lock hold takes (2 MiB: a 2 MiB allocation needs one hold). */
#define POISON_CHUNK 512

/* Which frames of a chunk had their poisoned bit: bit k = frame start + k. */
struct poison_chunk {
	uint64_t had[POISON_CHUNK / 64];
};

/* Lock held: tests and clears the poisoned bits of [start, start + count), count <= POISON_CHUNK, recording
 * them in *pc; returns whether any was set. Only bit operations: frame contents are read after the unlock. */
static bool take_poison_bits(struct pmm_node *n, uint64_t start, uint64_t count, struct poison_chunk *pc)
{
	spin_assert_held(&n->lock);
	bool any = false;
	for (uint64_t w = 0; w < POISON_CHUNK / 64; w++)
		pc->had[w] = 0;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t i = start + k - n->base_pfn;
		uint64_t bit = 1ULL << (i % 64);
		if (n->poisoned[i / 64] & bit) {
			n->poisoned[i / 64] &= ~bit;
			pc->had[k / 64] |= 1ULL << (k % 64);
			any = true;
		}
	}
	return any;
}

/* Lock not held (the frames are the caller's): every frame of [start, start + count) recorded in *pc must
 * still hold the freed pattern, else someone wrote it after freeing it: panics naming the frame, the offset
 * and the value. */
static void check_poisoned(uint64_t start, uint64_t count, const struct poison_chunk *pc)
{
	uint64_t freed = 0x0101010101010101ULL * MM_FILL_FREED;
	for (uint64_t k = 0; k < count; k++) {
		if (!(pc->had[k / 64] & (1ULL << (k % 64))))
			continue;
		volatile uint64_t *w = frame_words(start + k);
		for (uint64_t j = 0; j < PAGE_SIZE / 8; j++) {
			uint64_t v = w[j];
			if (v != freed)
				panic("frame_alloc: pfn 0x%lx was written after it was freed (use after free?): "
				      "word at +0x%lx is 0x%lx, freed pattern 0x%lx", start + k, j * 8, v, freed);
		}
	}
}

/* After the unlock of pmm_node_alloc, which took the first chunk's bits into *first: checks the run's
 * poisoned frames. Chunks after the first take their bits in short holds of their own; until then those
 * frames are allocated with the bit still set, which nothing but this function reads (set_state clears it,
 * poison_frames sets it only on a frame it frees, and these are the caller's). */
static void check_fresh_run(struct pmm_node *n, uint64_t start, uint64_t count, bool any_first,
			    const struct poison_chunk *first)
{
	uint64_t len = count < POISON_CHUNK ? count : POISON_CHUNK;
	if (any_first)
		check_poisoned(start, len, first);
	for (uint64_t off = len; off < count; off += len) {
		struct poison_chunk pc;
		len = count - off < POISON_CHUNK ? count - off : POISON_CHUNK;
		spin_lock(&n->lock);
		bool any = take_poison_bits(n, start + off, len, &pc);
		spin_unlock(&n->lock);
		if (any)
			check_poisoned(start + off, len, &pc);
	}
}

/* Fresh frames: fill with MM_FILL_FRESH (debug builds). The frames are the caller's now: no lock needed. */
static void fill_fresh(const struct pmm_node *n, uint64_t start, uint64_t count)
{
	if (!fills_on(n))
		return;
	for (uint64_t f = start; f < start + count; f++)
		fill_frame(f, MM_FILL_FRESH);
}

/* ---- a node ---- */

size_t pmm_node_meta_bytes(enum pmm_kind kind, uint64_t base_pfn, uint64_t nframes)
{
	size_t states = (size_t)(align_up(nframes, 8) + align_up(nframes, 64) / 8);   /* state bytes + poison bits */
	if (kind == PMM_BITMAP)
		return states + bitmap_meta_bytes(nframes);
	return states + buddy_meta_bytes(base_pfn, nframes);
}

void pmm_node_init(struct pmm_node *n, unsigned id, enum pmm_kind kind, uint64_t base_pfn, uint64_t nframes,
		   void *meta)
{
	n->id = id;
	n->kind = kind;
	n->base_pfn = base_pfn;
	n->nframes = nframes;
	n->state = meta;
	n->debug_fill = false;
	n->lock = (struct spinlock)SPINLOCK_INIT(pmm_node);
	for (uint64_t i = 0; i < nframes; i++)
		n->state[i] = FRAME_ABSENT;
	n->poisoned = (uint64_t *)(n->state + align_up(nframes, 8));
	for (uint64_t i = 0; i < align_up(nframes, 64) / 64; i++)
		n->poisoned[i] = 0;
	for (int s = 0; s < FRAME_STATE_COUNT; s++)
		n->count[s] = 0;
	n->count[FRAME_ABSENT] = nframes;
	void *alloc_meta = (uint8_t *)meta + align_up(nframes, 8) + align_up(nframes, 64) / 8;
	if (kind == PMM_BITMAP)
		bitmap_init(&n->alloc.bitmap, base_pfn, nframes, alloc_meta);
	else
		buddy_init(&n->alloc.buddy, base_pfn, nframes, alloc_meta);
}

/* Whether p lies in n's span. */
bool pmm_node_contains(const struct pmm_node *n, pfn_t p)
{
	return p.n >= n->base_pfn && p.n - n->base_pfn < n->nframes;
}

/* Sets the state of a range, moving frames in/out of the allocator as they enter/leave FREE. */
void pmm_node_set_state(struct pmm_node *n, uint64_t pfn, uint64_t count, enum frame_state st)
{
	if ((unsigned)st >= FRAME_STATE_COUNT)
		panic("pmm_node_set_state: invalid state %d", (int)st);
	pfn_range_check("pmm_node_set_state", "the node", n->base_pfn, n->nframes, pfn, count);
	spin_lock(&n->lock);
	/* Runs of frames that enter or leave FREE go to the allocator in one call each. */
	uint64_t run_start = 0, run_len = 0;
	bool run_entering = false;
	for (uint64_t i = 0; i <= count; i++) {
		bool entering = false, leaving = false;
		if (i < count) {
			enum frame_state old = n->state[pfn + i - n->base_pfn];
			entering = old != FRAME_FREE && st == FRAME_FREE;
			leaving = old == FRAME_FREE && st != FRAME_FREE;
			n->count[old]--;
			n->count[st]++;
			n->state[pfn + i - n->base_pfn] = (uint8_t)st;
			/* The frame's contents are no longer "as freed" (it may be in use as something else). */
			uint64_t idx = pfn + i - n->base_pfn;
			n->poisoned[idx / 64] &= ~(1ULL << (idx % 64));
		}
		bool moving = entering || leaving;
		if (run_len && (!moving || entering != run_entering)) {
			if (run_entering)
				alloc_free(n, run_start, run_len);
			else
				alloc_take(n, run_start, run_len);
			run_len = 0;
		}
		if (moving) {
			if (run_len == 0) {
				run_start = pfn + i;
				run_entering = entering;
			}
			run_len++;
		}
	}
	spin_unlock(&n->lock);
}

/* Allocates count contiguous frames aligned to align, marked use; checks the allocator's answer against the states. */
mm_err_t pmm_node_alloc(struct pmm_node *n, uint64_t count, uint64_t align, enum frame_state use, pfn_t *out)
{
	if (count == 0 || !is_owned(use) || (align > 1 && !is_pow2(align)))
		return MM_ERR_INVALID_FLAGS;
	uint64_t first;
	spin_lock(&n->lock);
	if (!alloc_run(n, count, align, &first)) {
		spin_unlock(&n->lock);
		return MM_ERR_OUT_OF_MEMORY;
	}
	for (uint64_t i = 0; i < count; i++) {
		uint8_t *s = &n->state[first + i - n->base_pfn];
		if (*s != FRAME_FREE)
			panic("pmm_node_alloc: allocator handed out pfn 0x%lx in state %s (node %u, %s)",
			      first + i, frame_state_name(*s), n->id, pmm_kind_name(n->kind));
		*s = (uint8_t)use;
	}
	n->count[FRAME_FREE] -= count;
	n->count[use] += count;
	struct poison_chunk pc;
	bool any = fills_on(n) && take_poison_bits(n, first, count < POISON_CHUNK ? count : POISON_CHUNK, &pc);
	spin_unlock(&n->lock);
	if (fills_on(n))
		check_fresh_run(n, first, count, any, &pc);
	fill_fresh(n, first, count);
	*out = pfn(first);
	return MM_OK;
}

/* Frees a range after checking every frame's state (double free, not owned, wrong kind, mixed); fills it 0x6b. */
void pmm_node_free(struct pmm_node *n, pfn_t first, uint64_t count, enum frame_state expected, uintptr_t caller)
{
	char buf[64];
	if (count == 0 || !pmm_node_contains(n, first) || count > n->nframes - (first.n - n->base_pfn))
		panic("frame_free: pfns [0x%lx, +%lu) not in node %u [0x%lx, +%lu), called from %s", first.n, count,
		      n->id, n->base_pfn, n->nframes, caller_name(caller, buf, sizeof buf));
	spin_lock(&n->lock);
	enum frame_state kind = (enum frame_state)n->state[first.n - n->base_pfn];
	for (uint64_t i = 0; i < count; i++) {
		enum frame_state s = (enum frame_state)n->state[first.n + i - n->base_pfn];
		const char *why = NULL;
		if (s == FRAME_FREE)
			why = " (double free?)";
		else if (!is_owned(s))
			why = " (not an allocated frame)";
		else if (expected != FRAME_STATE_COUNT && s != expected)
			why = " (wrong kind)";
		else if (s != kind)
			why = " (range of mixed kinds)";
		if (why) {
			spin_unlock(&n->lock);
			panic("frame_free: pfn 0x%lx is %s%s, expected %s, called from %s", first.n + i,
			      frame_state_name(s), why,
			      expected == FRAME_STATE_COUNT ? "an owned kind" : frame_state_name(expected),
			      caller_name(caller, buf, sizeof buf));
		}
	}
	for (uint64_t i = 0; i < count; i++)
		n->state[first.n + i - n->base_pfn] = FRAME_FREE;
	n->count[kind] -= count;
	n->count[FRAME_FREE] += count;
	poison_frames(n, first.n, count);
	alloc_free(n, first.n, count);
	spin_unlock(&n->lock);
}

/* Moves frame p from owned kind from to owned kind to; panics on any other state. */
void pmm_node_transfer(struct pmm_node *n, pfn_t p, enum frame_state from, enum frame_state to, uintptr_t caller)
{
	char buf[64];
	if (!pmm_node_contains(n, p))
		panic("frame_transfer: pfn 0x%lx not in node %u, called from %s", p.n, n->id,
		      caller_name(caller, buf, sizeof buf));
	if (!is_owned(from) || !is_owned(to))
		panic("frame_transfer: %s -> %s is not between owned kinds, pfn 0x%lx, called from %s",
		      frame_state_name(from), frame_state_name(to), p.n, caller_name(caller, buf, sizeof buf));
	spin_lock(&n->lock);
	uint8_t *s = &n->state[p.n - n->base_pfn];
	if (*s != from) {
		enum frame_state was = (enum frame_state)*s;
		spin_unlock(&n->lock);
		panic("frame_transfer: pfn 0x%lx is %s, expected %s, called from %s", p.n, frame_state_name(was),
		      frame_state_name(from), caller_name(caller, buf, sizeof buf));
	}
	*s = (uint8_t)to;
	n->count[from]--;
	n->count[to]++;
	spin_unlock(&n->lock);
}

/* State of p; FRAME_ABSENT outside n. */
enum frame_state pmm_node_state(struct pmm_node *n, pfn_t p)
{
	if (!pmm_node_contains(n, p))
		return FRAME_ABSENT;
	return (enum frame_state)n->state[p.n - n->base_pfn];
}

/* Snapshot of n's counts (and buddy free blocks per order). */
void pmm_node_stats(struct pmm_node *n, struct pmm_stats *out)
{
	spin_lock(&n->lock);
	for (int s = 0; s < FRAME_STATE_COUNT; s++)
		out->count[s] = n->count[s];
	for (int k = 0; k <= BUDDY_MAX_ORDER; k++)
		out->free_blocks[k] = n->kind == PMM_BUDDY ? n->alloc.buddy.nfree[k] : 0;
	out->hot = n->kind == PMM_BUDDY ? n->alloc.buddy.nhot : 0;
	spin_unlock(&n->lock);
	out->total = n->nframes - out->count[FRAME_ABSENT];
	out->free = out->count[FRAME_FREE];
	out->reserved = out->count[FRAME_RESERVED] + out->count[FRAME_KERNEL] + out->count[FRAME_LOADER];
}

/* Merges the buddy's hot cache back into its free lists (no-op for the bitmap). */
void pmm_node_drain(struct pmm_node *n)
{
	spin_lock(&n->lock);
	if (n->kind == PMM_BUDDY)
		buddy_drain(&n->alloc.buddy);
	spin_unlock(&n->lock);
}

/* Full invariant check of n (tests): counts match states, allocator free set = FREE frames. */
void pmm_node_check(struct pmm_node *n)
{
	uint64_t count[FRAME_STATE_COUNT] = { 0 };
	spin_lock(&n->lock);
	for (uint64_t i = 0; i < n->nframes; i++) {
		enum frame_state s = (enum frame_state)n->state[i];
		if ((unsigned)s >= FRAME_STATE_COUNT)
			panic("pmm_node_check: pfn 0x%lx has invalid state %d", n->base_pfn + i, (int)s);
		count[s]++;
		if ((s == FRAME_FREE) != alloc_is_free(n, n->base_pfn + i))
			panic("pmm_node_check: pfn 0x%lx is %s but the %s allocator has it %s", n->base_pfn + i,
			      frame_state_name(s), pmm_kind_name(n->kind),
			      s == FRAME_FREE ? "used" : "free");
	}
	for (int s = 0; s < FRAME_STATE_COUNT; s++)
		if (count[s] != n->count[s])
			panic("pmm_node_check: count[%s] = %lu but %lu frames are in that state",
			      frame_state_name((enum frame_state)s), n->count[s], count[s]);
	if (alloc_free_frames(n) != n->count[FRAME_FREE])
		panic("pmm_node_check: allocator has %lu free frames, states say %lu", alloc_free_frames(n),
		      n->count[FRAME_FREE]);
	spin_unlock(&n->lock);
}

/* ---- the global pmm ---- */

static struct pmm_node *g_nodes;
static unsigned g_nnodes;

static struct {
	const char *name;
	uint64_t (*count)(void);
} g_owners[PMM_MAX_OWNERS];
static unsigned g_nowners;

/* Installs nodes[0..count) as the global pmm and forgets registered owners. */
void pmm_set_global(struct pmm_node *nodes, unsigned count)
{
	g_nodes = nodes;
	g_nnodes = count;
	g_nowners = 0;
}

/* Number of nodes of the global pmm. */
unsigned pmm_node_count(void)
{
	return g_nnodes;
}

/* Node id of the global pmm, NULL if there is none. */
struct pmm_node *pmm_node_get(unsigned id)
{
	return id < g_nnodes ? &g_nodes[id] : NULL;
}

/* Stats of node id; MM_ERR_NUMA_NODE_NOT_FOUND for an unknown id. */
mm_err_t pmm_stats(unsigned id, struct pmm_stats *out)
{
	if (id >= g_nnodes)
		return MM_ERR_NUMA_NODE_NOT_FOUND;
	pmm_node_stats(&g_nodes[id], out);
	return MM_OK;
}

/* Adds a long-lived frame owner whose count() is subtracted in pmm_leaked (idempotent). */
void pmm_register_owner(const char *name, uint64_t (*count)(void))
{
	for (unsigned i = 0; i < g_nowners; i++)
		if (g_owners[i].count == count)
			return;
	if (g_nowners == PMM_MAX_OWNERS)
		panic("pmm_register_owner: more than %d owners (adding %s)", PMM_MAX_OWNERS, name);
	g_owners[g_nowners].name = name;
	g_owners[g_nowners].count = count;
	g_nowners++;
}

/* Owned frames of all nodes minus the registered owners' counts (0 = nothing leaked). */
int64_t pmm_leaked(void)
{
	int64_t owned = 0;
	for (unsigned i = 0; i < g_nnodes; i++) {
		struct pmm_stats st;
		pmm_node_stats(&g_nodes[i], &st);
		owned += (int64_t)(st.count[FRAME_ALLOCATED] + st.count[FRAME_PAGETABLE] + st.count[FRAME_HEAP]);
	}
	for (unsigned i = 0; i < g_nowners; i++)
		owned -= (int64_t)g_owners[i].count();
	return owned;
}

/* The node holding pfn p, or NULL. */
static struct pmm_node *node_of(pfn_t p)
{
	for (unsigned i = 0; i < g_nnodes; i++)
		if (pmm_node_contains(&g_nodes[i], p))
			return &g_nodes[i];
	return NULL;
}

/* ---- frame.h: the global interface ---- */

/* Fault injection: allocations left before every allocation fails; -1 = off. */
static long g_fail_after = -1;

/* Fault injection: n more allocations succeed, then all fail until reset with -1. */
void frame_alloc_fail_after(long n)
{
	g_fail_after = n < 0 ? -1 : n;
}

/* Consumes one allocation of the fault-injection budget; false when this one must fail. */
static bool injection_allows(void)
{
	if (g_fail_after < 0)
		return true;
	if (g_fail_after == 0)
		return false;
	g_fail_after--;
	return true;
}

/* count contiguous frames aligned to align_frames from the first node that has them. */
mm_err_t frame_alloc_contig(struct frame *out, size_t count, size_t align_frames, enum frame_state use)
{
	*out = FRAME_NONE;
	if (!is_owned(use))
		panic("frame_alloc: use %s is not an owned kind (ALLOCATED, PAGETABLE, HEAP)", frame_state_name(use));
	if (!injection_allows())
		return MM_ERR_OUT_OF_MEMORY;
	mm_err_t err = MM_ERR_OUT_OF_MEMORY;
	for (unsigned i = 0; i < g_nnodes; i++) {
		pfn_t p;
		err = pmm_node_alloc(&g_nodes[i], count, align_frames, use, &p);
		if (err == MM_OK) {
			out->pfn = p;
			return MM_OK;
		}
		if (err != MM_ERR_OUT_OF_MEMORY)
			return err;
	}
	return err;
}

/* One frame marked use. */
mm_err_t frame_alloc(struct frame *out, enum frame_state use)
{
	return frame_alloc_contig(out, 1, 1, use);
}

/* Frees through the node holding f (shared by the frame_free variants). */
static void free_common(struct frame *f, size_t count, enum frame_state expected, uintptr_t caller)
{
	char buf[64];
	struct pmm_node *n = node_of(f->pfn);
	if (!n)
		panic("frame_free: pfn 0x%lx is %s (no node holds it%s), called from %s", f->pfn.n,
		      frame_state_name(FRAME_ABSENT), frame_is_none(*f) ? ": poisoned handle, freed twice?" : "",
		      caller_name(caller, buf, sizeof buf));
	pmm_node_free(n, f->pfn, count, expected, caller);
	*f = FRAME_NONE;
}

/* Frees one owned frame and poisons the handle. */
void frame_free(struct frame *f)
{
	free_common(f, 1, FRAME_STATE_COUNT, (uintptr_t)__builtin_return_address(0));
}

/* Frees one frame that must be in state expected; poisons the handle. */
void frame_free_as(struct frame *f, enum frame_state expected)
{
	free_common(f, 1, expected, (uintptr_t)__builtin_return_address(0));
}

/* Frees count frames from *f (one owned kind); poisons the handle. */
void frame_free_contig(struct frame *f, size_t count)
{
	free_common(f, count, FRAME_STATE_COUNT, (uintptr_t)__builtin_return_address(0));
}

/* Moves f from owned kind from to owned kind to. */
void frame_transfer(struct frame *f, enum frame_state from, enum frame_state to)
{
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);
	char buf[64];
	struct pmm_node *n = node_of(f->pfn);
	if (!n)
		panic("frame_transfer: pfn 0x%lx is ABSENT, called from %s", f->pfn.n,
		      caller_name(caller, buf, sizeof buf));
	pmm_node_transfer(n, f->pfn, from, to, caller);
}

/* State of any pfn; FRAME_ABSENT outside every node. */
enum frame_state frame_state_of(pfn_t p)
{
	struct pmm_node *n = node_of(p);
	return n ? pmm_node_state(n, p) : FRAME_ABSENT;
}
