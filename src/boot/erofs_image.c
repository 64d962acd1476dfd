// SPDX-License-Identifier: MIT
#include "boot/erofs_image.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

/* The on-disk format, as Linux's fs/erofs/erofs_fs.h defines it. */
#define EROFS_MAGIC 0xE0F5E1E2u
#define EROFS_SUPER_OFFSET 1024
#define EROFS_BLOCK_BITS 12
#define EROFS_META_BLKADDR 1u
#define EROFS_SLOT 32u			/* nid = offset in the metadata area / 32 */
#define EROFS_INODE_EXTENDED_SIZE 64u
#define EROFS_DIRENT_SIZE 12u
#define EROFS_LAYOUT_EXTENDED 1u
#define EROFS_FLAT_PLAIN 0u
#define EROFS_FLAT_INLINE 2u
#define EROFS_XATTR_INDEX_TRUSTED 4

/* trusted.overlay.opaque = "y", inline: a 12-byte body header, then one
 * 4-byte entry header, the name after "trusted.", the value, padded to 4. */
#define OPAQUE_NAME "overlay.opaque"
#define OPAQUE_ENTRY_SIZE ((4 + sizeof(OPAQUE_NAME) - 1 + 1 + 3) & ~3u)
#define OPAQUE_XATTR_SIZE (12 + OPAQUE_ENTRY_SIZE)

/* Deeper than any /usr: a deeper directory is left to 9p. */
#define WALK_MAX_DEPTH 128
/* More entries than any /usr holds; past it the walk gives up. */
#define WALK_MAX_ENTRIES 16000000u

#define NO_NODE UINT32_MAX

struct node {
	char *name;
	char *link;		/* symlink target */
	uint32_t parent;
	uint32_t first_child;	/* children are contiguous and sorted by name */
	uint32_t n_children;
	uint32_t inode_of;	/* a hard link: the node that holds the inode; else itself */
	uint32_t nlink;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	dev_t dev, rdev;
	ino_t ino;
	uint64_t size;
	struct timespec mtime, ctime;
	bool opaque;		/* every entry under it is in the image */
	/* the layout */
	uint64_t nid;
	uint32_t blkaddr;	/* data: full blocks, in memory (dirs, symlinks) or the file's */
	uint32_t nblocks;
	uint32_t tail;		/* bytes inline after the inode */
	uint32_t xattr_size;
	uint64_t data_size;	/* i_size */
};

struct extent {
	uint32_t start, nblocks;	/* in the image */
	uint32_t node;
};

struct erofs_image {
	char *root;
	struct node *nodes;
	uint32_t n_nodes, nodes_cap;
	unsigned char *meta;		/* blocks [0, meta_blocks) */
	uint32_t meta_blocks;
	struct extent *extents;		/* files' data, in block order */
	uint32_t n_extents;
	uint32_t total_blocks;
	struct erofs_image_stats stats;
	/* the open file reads come from, checked against the walk */
	int fd;
	uint32_t fd_node;
	char *bad_path;
	/* walk state */
	uid_t euid;
	gid_t *groups;
	int n_groups;
	struct hardlink { dev_t dev; ino_t ino; uint32_t node; } *links;
	size_t links_cap, n_links;
};

static int image_add_node(struct erofs_image *img, uint32_t *ret)
{
	if (img->n_nodes >= WALK_MAX_ENTRIES)
		return -EFBIG;
	if (img->n_nodes == img->nodes_cap) {
		uint32_t cap = img->nodes_cap ? img->nodes_cap * 2 : 4096;
		struct node *n = realloc(img->nodes, (size_t)cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		img->nodes = n, img->nodes_cap = cap;
	}
	*ret = img->n_nodes++;
	img->nodes[*ret] = (struct node){ .parent = NO_NODE, .first_child = NO_NODE,
					  .inode_of = *ret, .nlink = 1 };
	return 0;
}

/* Whether the user running vmtest may read it (and, a directory, search it):
 * what it cannot read is left to 9p, which answers as the host does. */
static bool image_readable(const struct erofs_image *img, const struct stat *st)
{
	mode_t want = S_ISDIR(st->st_mode) ? 5 : 4;	/* r-x, r-- */
	mode_t bits;

	if (img->euid == 0)
		return true;
	if (st->st_uid == img->euid) {
		bits = (st->st_mode >> 6) & 7;
	} else {
		bool in_group = st->st_gid == getegid();

		for (int i = 0; !in_group && i < img->n_groups; i++)
			in_group = img->groups[i] == st->st_gid;
		bits = in_group ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & want) == want;
}

/* A hard link to a file already in the image shares its inode. */
static uint32_t image_hardlink(struct erofs_image *img, const struct stat *st, uint32_t node)
{
	size_t i;

	if (!S_ISREG(st->st_mode) || st->st_nlink < 2)
		return node;
	if (img->n_links * 2 >= img->links_cap) {
		size_t cap = img->links_cap ? img->links_cap * 2 : 1024;
		struct hardlink *t = calloc(cap, sizeof(*t));

		if (!t)
			return node;	/* no sharing: each link its own inode, still correct data */
		for (i = 0; i < img->links_cap; i++) {
			struct hardlink *h = &img->links[i];
			size_t j = (h->ino * 31 + h->dev) % cap;

			if (!h->node)
				continue;
			while (t[j].node)
				j = (j + 1) % cap;
			t[j] = *h;
		}
		free(img->links);
		img->links = t, img->links_cap = cap;
	}
	/* node 0 is the root, never a file: 0 marks a free slot. */
	for (i = (st->st_ino * 31 + st->st_dev) % img->links_cap; img->links[i].node;
	     i = (i + 1) % img->links_cap)
		if (img->links[i].ino == st->st_ino && img->links[i].dev == st->st_dev) {
			img->nodes[img->links[i].node].nlink++;
			return img->links[i].node;
		}
	img->links[i] = (struct hardlink){ st->st_dev, st->st_ino, node };
	img->n_links++;
	return node;
}

static int image_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static void image_set_stat(struct node *n, const struct stat *st)
{
	n->mode = st->st_mode, n->uid = st->st_uid, n->gid = st->st_gid;
	n->dev = st->st_dev, n->ino = st->st_ino, n->rdev = st->st_rdev;
	n->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	n->mtime = st->st_mtim, n->ctime = st->st_ctim;
}

/*
 * One directory: its entries first (so that they are contiguous, sorted,
 * and their inodes lie side by side), then each subdirectory.
 */
static int image_walk(struct erofs_image *img, int dir_fd, uint32_t dir, unsigned depth,
		      const char *const *leave_out, bool recurse)
{
	DIR *d = fdopendir(dir_fd);
	struct dirent *de;
	uint32_t first = img->n_nodes;
	bool whole = true;
	int r = 0;

	if (!d) {
		close(dir_fd);
		return -errno;
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		struct stat st;
		uint32_t n;
		bool skip = false;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (size_t i = 0; depth == 0 && leave_out && leave_out[i]; i++)
			skip |= strcmp(de->d_name, leave_out[i]) == 0;
		if (skip || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !image_readable(img, &st) || (S_ISDIR(st.st_mode) && depth >= WALK_MAX_DEPTH) ||
		    (S_ISREG(st.st_mode) && (uint64_t)st.st_size > EROFS_IMAGE_FILE_MAX)) {
			/* Gone since readdir, unreadable, too large for a disk of
			 * vmtest's, or left out: 9p answers for it. */
			whole = false;
			img->stats.left_out++;
			continue;
		}
		r = image_add_node(img, &n);
		if (r < 0)
			break;
		img->nodes[n].name = strdup(de->d_name);
		if (!img->nodes[n].name) {
			img->n_nodes--;
			r = -ENOMEM;
			break;
		}
		img->nodes[n].parent = dir;
		image_set_stat(&img->nodes[n], &st);
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

			if (len < 0) {
				/* Replaced since the stat: 9p answers for it. */
				free(img->nodes[n].name);
				img->n_nodes--;
				whole = false;
				img->stats.left_out++;
				continue;
			}
			target[len] = '\0';
			img->nodes[n].link = strdup(target);
			if (!img->nodes[n].link)
				r = -ENOMEM;
		}
	}
	if (r == 0 && errno)
		r = -errno;
	if (r < 0) {
		/* No image this run (out of memory): nothing half made is sorted. */
		closedir(d);
		return r;
	}
	img->nodes[dir].n_children = img->n_nodes - first;
	img->nodes[dir].first_child = first;
	qsort(img->nodes + first, img->n_nodes - first, sizeof(struct node), image_name_cmp);
	for (uint32_t i = 0; r == 0 && recurse && i < img->nodes[dir].n_children; i++) {
		uint32_t child = img->nodes[dir].first_child + i;
		int fd;

		if (!S_ISDIR(img->nodes[child].mode))
			continue;
		fd = openat(dirfd(d), img->nodes[child].name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* Unreadable after all, or gone: an empty directory
			 * that is not opaque, so 9p answers under it. */
			img->nodes[child].n_children = 0;
			img->nodes[child].opaque = false;
			whole = false;
			continue;
		}
		r = image_walk(img, fd, child, depth + 1, leave_out, true);
		/* Overlayfs stops at the first opaque directory: one that holds
		 * all its entries but not all of theirs is not opaque. */
		whole &= img->nodes[child].opaque;
	}
	img->nodes[dir].opaque = whole;
	closedir(d);
	return r;
}

/* A directory's entries as EROFS stores them: ".", "..", the children,
 * all sorted by name, packed into blocks that no entry straddles. */
struct dirent_ref {
	const char *name;
	uint64_t nid;
	uint8_t type;
};

static uint8_t image_file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 1;
	case S_IFDIR: return 2;
	case S_IFCHR: return 3;
	case S_IFBLK: return 4;
	case S_IFIFO: return 5;
	case S_IFSOCK: return 6;
	case S_IFLNK: return 7;
	default: return 0;
	}
}

static int image_dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dirent_ref *)a)->name, ((const struct dirent_ref *)b)->name);
}

static struct dirent_ref *image_dirents(const struct erofs_image *img, uint32_t dir)
{
	const struct node *d = &img->nodes[dir];
	struct dirent_ref *refs = calloc(d->n_children + 2, sizeof(*refs));
	uint32_t parent = d->parent == NO_NODE ? dir : d->parent;

	if (!refs)
		return NULL;
	refs[0] = (struct dirent_ref){ ".", d->nid, 2 };
	refs[1] = (struct dirent_ref){ "..", img->nodes[parent].nid, 2 };
	for (uint32_t i = 0; i < d->n_children; i++) {
		const struct node *c = &img->nodes[d->first_child + i];

		refs[i + 2] = (struct dirent_ref){ c->name, img->nodes[c->inode_of].nid,
						   image_file_type(c->mode) };
	}
	qsort(refs, d->n_children + 2, sizeof(*refs), image_dirent_cmp);
	return refs;
}

/* Bytes of the directory: full blocks, then what the last one holds. */
static uint64_t image_dir_size(const struct erofs_image *img, uint32_t dir,
			       const struct dirent_ref *refs, unsigned char *out)
{
	uint32_t n = img->nodes[dir].n_children + 2, i = 0;
	uint64_t size = 0;

	while (i < n) {
		uint32_t count = 0, names = 0;

		while (i + count < n &&
		       (count + 1) * EROFS_DIRENT_SIZE + names + strlen(refs[i + count].name) <=
			       EROFS_IMAGE_BLOCK) {
			names += (uint32_t)strlen(refs[i + count].name);
			count++;
		}
		if (out) {
			unsigned char *blk = out + size;
			uint32_t nameoff = count * EROFS_DIRENT_SIZE;

			for (uint32_t k = 0; k < count; k++) {
				const struct dirent_ref *ref = &refs[i + k];
				uint64_t nid = htole64(ref->nid);
				uint16_t off = htole16((uint16_t)nameoff);
				size_t len = strlen(ref->name);

				memcpy(blk + k * EROFS_DIRENT_SIZE, &nid, 8);
				memcpy(blk + k * EROFS_DIRENT_SIZE + 8, &off, 2);
				blk[k * EROFS_DIRENT_SIZE + 10] = ref->type;
				blk[k * EROFS_DIRENT_SIZE + 11] = 0;
				memcpy(blk + nameoff, ref->name, len);
				nameoff += (uint32_t)len;
			}
		}
		i += count;
		/* A block that is not the last is whole: its names end at a NUL. */
		size += i < n ? EROFS_IMAGE_BLOCK : count * EROFS_DIRENT_SIZE + names;
	}
	return size;
}

/* The inline tail of a directory or symlink, or none: then all of it in blocks. */
static void image_plan_inode(struct erofs_image *img, uint32_t i)
{
	struct node *n = &img->nodes[i];
	uint64_t size = n->data_size;
	uint32_t tail = (uint32_t)(size % EROFS_IMAGE_BLOCK);

	n->xattr_size = S_ISDIR(n->mode) && n->opaque ? OPAQUE_XATTR_SIZE : 0;
	n->nblocks = (uint32_t)((size + EROFS_IMAGE_BLOCK - 1) / EROFS_IMAGE_BLOCK);
	n->tail = 0;
	if ((S_ISDIR(n->mode) || S_ISLNK(n->mode)) && tail &&
	    EROFS_INODE_EXTENDED_SIZE + n->xattr_size + tail <= EROFS_IMAGE_BLOCK) {
		n->tail = tail;
		n->nblocks = (uint32_t)(size / EROFS_IMAGE_BLOCK);
	}
}

static void put16(unsigned char *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

static uint32_t image_encode_dev(dev_t dev)
{
	unsigned maj = major(dev), min = minor(dev);

	return (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
}

static void image_write_inode(struct erofs_image *img, const struct node *n, unsigned char *p)
{
	bool inline_tail = n->tail > 0;
	uint32_t i_u = n->blkaddr;

	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		i_u = image_encode_dev(n->rdev);
	put16(p, (uint16_t)(EROFS_LAYOUT_EXTENDED |
			    ((inline_tail ? EROFS_FLAT_INLINE : EROFS_FLAT_PLAIN) << 1)));
	put16(p + 2, (uint16_t)(n->xattr_size ? (n->xattr_size - 12) / 4 + 1 : 0));
	put16(p + 4, (uint16_t)n->mode);
	put64(p + 8, n->data_size);
	put32(p + 16, i_u);
	put32(p + 20, (uint32_t)n->nid);
	put32(p + 24, (uint32_t)n->uid);
	put32(p + 28, (uint32_t)n->gid);
	put64(p + 32, (uint64_t)n->mtime.tv_sec);
	put32(p + 40, (uint32_t)n->mtime.tv_nsec);
	put32(p + 44, n->nlink);
	p += EROFS_INODE_EXTENDED_SIZE;
	if (n->xattr_size) {
		/* body header (12 zero bytes), then the entry */
		p[12] = (unsigned char)(sizeof(OPAQUE_NAME) - 1);
		p[13] = EROFS_XATTR_INDEX_TRUSTED;
		put16(p + 14, 1);
		memcpy(p + 16, OPAQUE_NAME, sizeof(OPAQUE_NAME) - 1);
		p[16 + sizeof(OPAQUE_NAME) - 1] = 'y';
		p += n->xattr_size;
	}
	(void)img;
}

/* Where each node's inode goes, then its blocks; then write it all. */
static int image_lay_out(struct erofs_image *img)
{
	uint64_t offset = 0, inodes = 0;
	uint32_t block;

	for (uint32_t i = 0; i < img->n_nodes; i++) {
		struct node *n = &img->nodes[i];

		if (n->inode_of != i)
			continue;
		if (S_ISDIR(n->mode)) {
			_cleanup_free_ struct dirent_ref *refs = image_dirents(img, i);

			if (!refs)
				return -ENOMEM;
			n->data_size = image_dir_size(img, i, refs, NULL);
			n->nlink = 2;
			for (uint32_t k = 0; k < n->n_children; k++)
				n->nlink += S_ISDIR(img->nodes[n->first_child + k].mode);
		} else if (S_ISLNK(n->mode)) {
			n->data_size = strlen(n->link);
		} else {
			n->data_size = n->size;
		}
		image_plan_inode(img, i);
		{
			uint32_t record = EROFS_INODE_EXTENDED_SIZE + n->xattr_size + n->tail;
			uint64_t in_block = offset % EROFS_IMAGE_BLOCK;

			/* An inode with its inline data never straddles a block. */
			if (in_block + record > EROFS_IMAGE_BLOCK)
				offset += EROFS_IMAGE_BLOCK - in_block;
			n->nid = offset / EROFS_SLOT;
			offset += (record + EROFS_SLOT - 1) / EROFS_SLOT * EROFS_SLOT;
		}
		inodes++;
	}
	/* Directories' nids are known only now: sizes did not depend on them. */
	block = EROFS_META_BLKADDR + (uint32_t)((offset + EROFS_IMAGE_BLOCK - 1) / EROFS_IMAGE_BLOCK);
	for (uint32_t i = 0; i < img->n_nodes; i++) {
		struct node *n = &img->nodes[i];

		if (n->inode_of == i && !S_ISREG(n->mode) && n->nblocks)
			n->blkaddr = block, block += n->nblocks;
	}
	img->meta_blocks = block;
	for (uint32_t i = 0; i < img->n_nodes; i++) {
		struct node *n = &img->nodes[i];

		if (n->inode_of != i || !S_ISREG(n->mode) || !n->nblocks)
			continue;
		if ((uint64_t)block + n->nblocks + 1 > EROFS_IMAGE_DEVICE_BYTES / EROFS_IMAGE_BLOCK)
			return -EFBIG;
		/* A block between files: the guest's block layer may merge reads
		 * of neighbouring blocks into one request, and one file changed
		 * on the host must not fail the read of another. */
		n->blkaddr = block, block += n->nblocks + 1;
		img->n_extents++;
		img->stats.files++;
		img->stats.data_bytes += n->size;
	}
	img->total_blocks = block;
	img->meta = calloc(img->meta_blocks, EROFS_IMAGE_BLOCK);
	img->extents = calloc(img->n_extents ? img->n_extents : 1, sizeof(*img->extents));
	if (!img->meta || !img->extents)
		return -ENOMEM;
	img->n_extents = 0;
	for (uint32_t i = 0; i < img->n_nodes; i++) {
		struct node *n = &img->nodes[i];
		unsigned char *inode = img->meta + (uint64_t)EROFS_META_BLKADDR * EROFS_IMAGE_BLOCK +
				       n->nid * EROFS_SLOT;
		unsigned char *tail = inode + EROFS_INODE_EXTENDED_SIZE + n->xattr_size;

		if (n->inode_of != i)
			continue;
		image_write_inode(img, n, inode);
		if (S_ISREG(n->mode)) {
			if (n->nblocks)
				img->extents[img->n_extents++] =
					(struct extent){ n->blkaddr, n->nblocks, i };
		} else if (S_ISLNK(n->mode)) {
			memcpy(n->tail ? tail : img->meta + (uint64_t)n->blkaddr * EROFS_IMAGE_BLOCK,
			       n->link, n->data_size);
		} else if (S_ISDIR(n->mode)) {
			_cleanup_free_ struct dirent_ref *refs = image_dirents(img, i);
			_cleanup_free_ unsigned char *data = NULL;
			uint64_t full = (uint64_t)n->nblocks * EROFS_IMAGE_BLOCK;

			data = calloc(1, full + EROFS_IMAGE_BLOCK);
			if (!refs || !data)
				return -ENOMEM;
			image_dir_size(img, i, refs, data);
			if (full)
				memcpy(img->meta + (uint64_t)n->blkaddr * EROFS_IMAGE_BLOCK, data, full);
			if (n->tail)
				memcpy(tail, data + full, n->tail);
		}
	}
	img->stats.entries = img->n_nodes;
	img->stats.image_bytes = (uint64_t)img->total_blocks * EROFS_IMAGE_BLOCK;
	img->stats.memory_bytes = (size_t)img->meta_blocks * EROFS_IMAGE_BLOCK +
				  img->n_nodes * sizeof(struct node) +
				  img->n_extents * sizeof(struct extent);

	{
		unsigned char *sb = img->meta + EROFS_SUPER_OFFSET;
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		put32(sb, EROFS_MAGIC);
		sb[12] = EROFS_BLOCK_BITS;
		put16(sb + 14, (uint16_t)img->nodes[0].nid);
		put64(sb + 16, inodes);
		put64(sb + 24, (uint64_t)now.tv_sec);
		put32(sb + 32, (uint32_t)now.tv_nsec);
		put32(sb + 36, img->total_blocks);
		put32(sb + 40, EROFS_META_BLKADDR);
		if (getrandom(sb + 48, 16, GRND_NONBLOCK) != 16)
			memset(sb + 48, 0x5a, 16);
		memcpy(sb + 64, "vmtest-usr", 10);
	}
	return 0;
}

/*
 * The walk of the directories under the top level, in parallel: the stat
 * calls are most of a run's set-up time (0.6 s for a /usr of 185k entries),
 * and the guest's first reads wait for them.  Each worker walks whole
 * subtrees into a store of its own; the stores are appended in the top
 * level's order, so every directory's entries stay contiguous and sorted.
 */
#define WALK_MAX_WORKERS 4

static char *image_path(const struct erofs_image *img, uint32_t node);

struct subtree {
	struct erofs_image store;	/* node 0: the subtree's root, a copy */
	uint32_t top;			/* its node in the image */
	bool unopened;			/* gone or unreadable since the top level's walk */
	int r;
};

struct walk_queue {
	struct erofs_image *img;
	struct subtree *subtrees;
	uint32_t n;
	_Atomic uint32_t next;
};

static void *image_walk_worker(void *arg)
{
	struct walk_queue *q = arg;
	uint32_t i;

	while ((i = q->next++) < q->n) {
		struct subtree *t = &q->subtrees[i];
		_cleanup_free_ char *path = image_path(q->img, t->top);
		uint32_t root;
		int fd;

		t->store = (struct erofs_image){ .euid = q->img->euid, .groups = q->img->groups,
						 .n_groups = q->img->n_groups, .fd = -1 };
		t->r = path ? image_add_node(&t->store, &root) : -ENOMEM;
		if (t->r < 0)
			continue;
		t->store.nodes[root] = q->img->nodes[t->top];
		t->store.nodes[root].name = NULL;
		t->store.nodes[root].link = NULL;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* Unreadable after all, or gone: an empty directory that
			 * is not opaque, nor its parent, so 9p answers under it. */
			t->store.nodes[root].n_children = 0;
			t->store.nodes[root].opaque = false;
			t->unopened = true;
			continue;
		}
		t->r = image_walk(&t->store, fd, root, 1, NULL, true);
	}
	return NULL;
}

/* Append a subtree's nodes (all but its root) to the image. */
static int image_take_subtree(struct erofs_image *img, struct subtree *t)
{
	struct node *top = &img->nodes[t->top];
	const struct node *sub = &t->store.nodes[0];
	uint32_t base = img->n_nodes - 1;	/* subtree index i lands at base + i */

	top->opaque = sub->opaque;
	/* The top level is opaque only when every subtree is, whole. */
	if (t->unopened || !sub->opaque)
		img->nodes[0].opaque = false;
	top->n_children = sub->n_children;
	top->first_child = sub->n_children ? sub->first_child + base : NO_NODE;
	for (uint32_t i = 1; i < t->store.n_nodes; i++) {
		struct node n = t->store.nodes[i];
		uint32_t at;
		int r = image_add_node(img, &at);

		if (r < 0)
			return r;
		n.parent = n.parent == 0 ? t->top : n.parent + base;
		if (n.first_child != NO_NODE)
			n.first_child += base;
		n.inode_of = at;
		img->nodes[at] = n;
		t->store.nodes[i].name = t->store.nodes[i].link = NULL;	/* moved */
	}
	img->stats.left_out += t->store.stats.left_out;
	return 0;
}

static int image_walk_subtrees(struct erofs_image *img)
{
	const struct node *root = &img->nodes[0];
	struct walk_queue q = { .img = img };
	pthread_t workers[WALK_MAX_WORKERS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n_workers = cpus < 1 ? 1 : cpus > WALK_MAX_WORKERS ? WALK_MAX_WORKERS : (unsigned)cpus;
	unsigned started = 0;
	int r = 0;

	q.subtrees = calloc(root->n_children ? root->n_children : 1, sizeof(*q.subtrees));
	if (!q.subtrees)
		return -ENOMEM;
	for (uint32_t i = 0; i < root->n_children; i++)
		if (S_ISDIR(img->nodes[root->first_child + i].mode))
			q.subtrees[q.n++].top = root->first_child + i;
	/* The calling thread is a worker too. */
	while (started + 1 < n_workers && started + 1 < q.n &&
	       pthread_create(&workers[started], NULL, image_walk_worker, &q) == 0)
		started++;
	image_walk_worker(&q);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	for (uint32_t i = 0; i < q.n; i++) {
		if (r == 0)
			r = q.subtrees[i].r;
		if (r == 0)
			r = image_take_subtree(img, &q.subtrees[i]);
		for (uint32_t k = 0; k < q.subtrees[i].store.n_nodes; k++) {
			free(q.subtrees[i].store.nodes[k].name);
			free(q.subtrees[i].store.nodes[k].link);
		}
		free(q.subtrees[i].store.nodes);
	}
	free(q.subtrees);
	return r;
}

int erofs_image_build(const char *dir, const char *const *leave_out,
		      struct erofs_image **ret_image, struct error *err)
{
	struct erofs_image *img = calloc(1, sizeof(*img));
	struct stat st;
	uint32_t root;
	int fd, r;

	if (!img)
		return error_set(err, ENOMEM, "out of memory");
	img->fd = -1;
	img->euid = geteuid();
	img->n_groups = getgroups(0, NULL);
	if (img->n_groups > 0) {
		img->groups = calloc((size_t)img->n_groups, sizeof(gid_t));
		if (!img->groups || getgroups(img->n_groups, img->groups) < 0)
			img->n_groups = 0;
	}
	img->root = strdup(dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!img->root || fd < 0 || fstat(fd, &st) < 0) {
		r = img->root ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		erofs_image_free(img);
		return error_set_errno(err, -r, "%s", dir);
	}
	r = image_add_node(img, &root);
	if (r == 0) {
		image_set_stat(&img->nodes[root], &st);
		/* The top level here, each directory under it by a worker. */
		r = image_walk(img, fd, root, 0, leave_out, false);
	}
	if (r == 0)
		r = image_walk_subtrees(img);
	/* Hard links only now: each directory's sort moved its nodes. */
	for (uint32_t i = 0; r == 0 && i < img->n_nodes; i++) {
		struct stat hl = { .st_mode = img->nodes[i].mode, .st_dev = img->nodes[i].dev,
				   .st_ino = img->nodes[i].ino, .st_nlink = 2 };

		img->nodes[i].inode_of = image_hardlink(img, &hl, i);
	}
	free(img->links);
	img->links = NULL;
	if (r == 0)
		r = image_lay_out(img);
	if (r < 0) {
		erofs_image_free(img);
		if (r == -EFBIG)
			return error_set(err, EFBIG, "%s: too large for an image of vmtest's (more "
					 "than %u entries or %llu GiB)", dir, WALK_MAX_ENTRIES,
					 (unsigned long long)(EROFS_IMAGE_DEVICE_BYTES >> 30));
		return error_set_errno(err, -r, "walk %s", dir);
	}
	*ret_image = img;
	return 0;
}

/* The host path of a node, from its parents' names. */
static char *image_path(const struct erofs_image *img, uint32_t node)
{
	size_t len = strlen(img->root), at;
	char *path;

	for (uint32_t n = node; n != 0; n = img->nodes[n].parent)
		len += 1 + strlen(img->nodes[n].name);
	path = malloc(len + 1);
	if (!path)
		return NULL;
	path[len] = '\0';
	at = len;
	for (uint32_t n = node; n != 0; n = img->nodes[n].parent) {
		size_t l = strlen(img->nodes[n].name);

		at -= l;
		memcpy(path + at, img->nodes[n].name, l);
		path[--at] = '/';
	}
	memcpy(path, img->root, strlen(img->root));
	return path;
}

static bool image_same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool image_same_file(const struct stat *st, const struct node *n)
{
	return st->st_ino == n->ino && st->st_dev == n->dev && (uint64_t)st->st_size == n->size &&
	       image_same_time(st->st_mtim, n->mtime) && image_same_time(st->st_ctim, n->ctime);
}

/* The file behind node, opened and checked to be the one the walk saw. */
static int image_open(struct erofs_image *img, uint32_t node)
{
	const struct node *n = &img->nodes[node];
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	/* Still open from the last read: still the walk's file, unchanged?
	 * (Renamed over meanwhile, its ctime changed with its link count: an
	 * I/O error, as for any change.) */
	if (img->fd >= 0 && img->fd_node == node) {
		if (fstat(img->fd, &st) == 0 && image_same_file(&st, n))
			return img->fd;
		close(img->fd);
		img->fd = -1;
		free(img->bad_path);
		img->bad_path = image_path(img, node);
		return -ESTALE;
	}
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
	path = image_path(img, node);
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !image_same_file(&st, n))) {
		close(fd);
		fd = -ESTALE;
	}
	if (fd < 0) {
		free(img->bad_path);
		img->bad_path = TAKE_PTR(path);
		return fd == -ESTALE ? fd : -errno;
	}
	img->fd = fd, img->fd_node = node;
	return fd;
}

int erofs_image_read(struct erofs_image *img, uint64_t offset, void *buf, size_t len,
		     const char **ret_path)
{
	unsigned char *out = buf;
	uint64_t meta_end = (uint64_t)img->meta_blocks * EROFS_IMAGE_BLOCK;

	while (len > 0) {
		uint64_t block = offset / EROFS_IMAGE_BLOCK;
		size_t n;

		if (offset < meta_end) {
			n = (size_t)(meta_end - offset < len ? meta_end - offset : len);
			memcpy(out, img->meta + offset, n);
		} else {
			uint32_t lo = 0, hi = img->n_extents;
			const struct extent *e = NULL;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;

				if (img->extents[mid].start + (uint64_t)img->extents[mid].nblocks <= block)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < img->n_extents && img->extents[lo].start <= block)
				e = &img->extents[lo];
			if (!e && lo < img->n_extents) {
				/* Between files: zeros up to the next. */
				uint64_t next = (uint64_t)img->extents[lo].start * EROFS_IMAGE_BLOCK;

				n = (size_t)(next - offset < len ? next - offset : len);
				memset(out, 0, n);
				out += n, offset += n, len -= n;
				continue;
			}
			if (!e) {
				/* Past the image: the rest of the disk reads as zeros. */
				memset(out, 0, len);
				return 0;
			}
			{
				uint64_t start = (uint64_t)e->start * EROFS_IMAGE_BLOCK;
				uint64_t end = start + (uint64_t)e->nblocks * EROFS_IMAGE_BLOCK;
				uint64_t in_file = offset - start;
				uint64_t size = img->nodes[e->node].size;
				struct stat st;
				int fd;

				n = (size_t)(end - offset < len ? end - offset : len);
				memset(out, 0, n);
				if (in_file < size) {
					size_t want = (size_t)(size - in_file < n ? size - in_file : n);
					ssize_t got;

					fd = image_open(img, e->node);
					if (fd < 0) {
						*ret_path = img->bad_path;
						return fd == -ENOMEM ? fd : -EIO;
					}
					got = pread(fd, out, want, (off_t)in_file);
					/* Shrunk, or written while read: not the file the
					 * walk saw (a write in the same clock tick as the
					 * walk's stat aside). */
					if (got < 0 || (size_t)got != want ||
					    fstat(fd, &st) < 0 ||
					    !image_same_file(&st, &img->nodes[e->node])) {
						free(img->bad_path);
						img->bad_path = image_path(img, e->node);
						*ret_path = img->bad_path;
						return -EIO;
					}
				}
			}
		}
		out += n, offset += n, len -= n;
	}
	return 0;
}

bool erofs_image_opaque(const struct erofs_image *img, const char *path)
{
	uint32_t node = 0;

	while (*path) {
		size_t len = strcspn(path, "/");
		const struct node *d = &img->nodes[node];
		uint32_t found = NO_NODE;

		for (uint32_t i = 0; S_ISDIR(d->mode) && i < d->n_children; i++) {
			const char *name = img->nodes[d->first_child + i].name;

			if (strlen(name) == len && memcmp(name, path, len) == 0)
				found = d->first_child + i;
		}
		if (found == NO_NODE)
			return false;
		node = found;
		path += len + (path[len] == '/');
	}
	return S_ISDIR(img->nodes[node].mode) && img->nodes[node].opaque;
}

const struct erofs_image_stats *erofs_image_stats(const struct erofs_image *image)
{
	return &image->stats;
}

struct erofs_image *erofs_image_free(struct erofs_image *img)
{
	if (!img)
		return NULL;
	for (uint32_t i = 0; i < img->n_nodes; i++) {
		free(img->nodes[i].name);
		free(img->nodes[i].link);
	}
	if (img->fd >= 0)
		close(img->fd);
	free(img->nodes);
	free(img->meta);
	free(img->extents);
	free(img->links);
	free(img->groups);
	free(img->bad_path);
	free(img->root);
	free(img);
	return NULL;
}
