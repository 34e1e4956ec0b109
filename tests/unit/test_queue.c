/*
 * test_queue: queue file round trip, END-record discipline, IDs.
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "queue/queue.h"

static char tmpdir[] = "/tmp/test_queue.XXXXXX";
static int oldcwd = -1;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
	oldcwd = open(".", O_RDONLY | O_DIRECTORY);
	cr_assert_eq(chdir(tmpdir), 0);
	cr_assert_eq(mkdir("incoming", 0700), 0);
}

static void
teardown(void)
{
	char cmd[128];

	if (oldcwd >= 0 && fchdir(oldcwd) == 0)
		close(oldcwd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)!system(cmd);
}

TestSuite(queue, .init = setup, .fini = teardown);

static void
write_message(struct queue_writer *w, const char *body)
{
	cr_assert_eq(queue_writer_open(w, "incoming"), 0);
	cr_assert(queue_id_valid(w->id), "bad id %s", w->id);
	queue_writer_recordf(w, QREC_TIME, "%lld %ld", 1700000000LL, 123456L);
	queue_writer_record(w, QREC_SENDER, "alice@example.org", 17);
	queue_writer_recordf(w, QREC_ATTR, "client_address=%s", "192.0.2.1");
	queue_writer_record(w, QREC_ORCPT, "rfc822;Bob@example.com", 22);
	queue_writer_record(w, QREC_RCPT, "bob@example.com", 15);
	queue_writer_record(w, QREC_RCPT, "carol@example.com", 17);
	queue_writer_content_begin(w);
	queue_writer_content(w, body, strlen(body));
	queue_writer_content_end(w);
}

Test(queue, round_trip_and_done_marks)
{
	struct queue_writer w;
	struct queue_message m;
	char path[128], err[128], content[64];
	const char *body = "Subject: hi\n\nhello\n";
	int fd;

	write_message(&w, body);
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	cr_assert_eq(access(path, F_OK), 0, "no %s", path);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.arrival_sec, 1700000000LL);
	cr_assert_eq(m.arrival_usec, 123456L);
	cr_assert_str_eq(m.sender, "alice@example.org");
	cr_assert_str_eq(queue_message_attr(&m, "client_address"), "192.0.2.1");
	cr_assert_eq(m.nrcpts, 2);
	cr_assert_str_eq(m.rcpts[0].orcpt, "rfc822;Bob@example.com");
	cr_assert_null(m.rcpts[1].orcpt);
	cr_assert_eq(m.content_len, strlen(body));
	cr_assert_eq(pread_full(fd, content, m.content_len, m.content_offset), 0);
	cr_assert_eq(memcmp(content, body, m.content_len), 0);
	cr_assert_eq(queue_rcpt_done(fd, &m.rcpts[1]), 0);
	queue_message_free(&m);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.rcpts[0].done, 0);
	cr_assert_eq(m.rcpts[1].done, 1);
	queue_message_free(&m);
	close(fd);
}

Test(queue, dsn_notify_belongs_to_the_next_recipient_only)
{
	struct queue_writer w;
	struct queue_message m;
	char path[128], err[128];
	int fd;

	cr_assert_eq(queue_writer_open(&w, "incoming"), 0);
	queue_writer_recordf(&w, QREC_TIME, "%lld %ld", 1700000000LL, 1L);
	queue_writer_record(&w, QREC_SENDER, "", 0);
	queue_writer_recordf(&w, QREC_ATTR, "dsn_envid=%s", "QQ314159");
	queue_writer_record(&w, QREC_NOTIFY, "SUCCESS,FAILURE", 15);
	queue_writer_record(&w, QREC_ORCPT, "rfc822;a@example.com", 20);
	queue_writer_record(&w, QREC_RCPT, "a@example.com", 13);
	queue_writer_record(&w, QREC_RCPT, "b@example.com", 13);
	queue_writer_record(&w, QREC_NOTIFY, "NEVER", 5);
	queue_writer_record(&w, QREC_RCPT, "c@example.com", 13);
	queue_writer_content_begin(&w);
	queue_writer_content(&w, "\n", 1);
	queue_writer_content_end(&w);
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	cr_assert_geq(fd = open(path, O_RDONLY), 0);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.nrcpts, 3);
	cr_assert_str_eq(m.rcpts[0].notify, "SUCCESS,FAILURE");
	cr_assert_str_eq(m.rcpts[0].orcpt, "rfc822;a@example.com");
	cr_assert_null(m.rcpts[1].notify);
	cr_assert_null(m.rcpts[1].orcpt);
	cr_assert_str_eq(m.rcpts[2].notify, "NEVER");
	cr_assert_str_eq(queue_message_attr(&m, "dsn_envid"), "QQ314159");
	queue_message_free(&m);
	close(fd);
}

Test(queue, truncated_file_is_refused)
{
	struct queue_writer w;
	struct queue_message m;
	struct stat st;
	char path[128], err[128];
	off_t cut;
	int fd;

	write_message(&w, "Subject: x\n\nbody\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	fd = open(path, O_RDWR);
	cr_assert_eq(fstat(fd, &st), 0);
	/* Every proper prefix, including one that loses only END, is refused. */
	for (cut = st.st_size - 1; cut >= 0; cut--) {
		cr_assert_eq(ftruncate(fd, cut), 0);
		cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), -1,
		    "accepted a file cut at %lld", (long long)cut);
	}
	close(fd);
}

Test(queue, garbage_after_end_and_bad_types_are_refused)
{
	struct queue_writer w;
	struct queue_message m;
	char path[128], err[128];
	int fd;

	write_message(&w, "x\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	fd = open(path, O_RDWR | O_APPEND);
	cr_assert_eq(write(fd, "Z\0\0\0\0", 5), 5);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), -1);
	cr_assert(strstr(err, "after END") != NULL, "%s", err);
	close(fd);
}

Test(queue, abort_leaves_nothing)
{
	struct queue_writer w;
	char cmd[64];

	write_message(&w, "x\n");
	queue_writer_abort(&w);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A incoming)\"");
	cr_assert_eq(system(cmd), 0, "incoming/ not empty after abort");
}

Test(queue, big_content_streams)
{
	struct queue_writer w;
	struct queue_message m;
	char path[128], err[128], chunk[1000];
	int fd, i;

	memset(chunk, 'a', sizeof(chunk));
	chunk[sizeof(chunk) - 1] = '\n';
	cr_assert_eq(queue_writer_open(&w, "incoming"), 0);
	queue_writer_record(&w, QREC_SENDER, "", 0);
	queue_writer_record(&w, QREC_RCPT, "x@y", 3);
	queue_writer_content_begin(&w);
	for (i = 0; i < 1000; i++)
		queue_writer_content(&w, chunk, sizeof(chunk));
	queue_writer_content_end(&w);
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	fd = open(path, O_RDONLY);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.content_len, 1000000);
	cr_assert_str_eq(m.sender, "");
	queue_message_free(&m);
	close(fd);
}

/*
 * Records are parsed through a read window (16 KiB): recipients that
 * straddle and pass its end, a record larger than the window, content
 * beyond it, and every cut of such a file must read as before.
 */
Test(queue, records_across_the_read_window)
{
	struct queue_writer w;
	struct queue_message m;
	struct stat st;
	char path[128], err[128], addr[64], *big;
	off_t cut;
	int fd, i;

	cr_assert_eq(queue_writer_open(&w, "incoming"), 0);
	queue_writer_record(&w, QREC_SENDER, "s@example.org", 13);
	big = malloc(40000);
	memset(big, 'v', 40000);
	memcpy(big, "big=", 4);
	queue_writer_record(&w, QREC_ATTR, big, 40000);	/* > the window */
	for (i = 0; i < 1500; i++) {
		snprintf(addr, sizeof(addr), "rcpt%04d@example.com", i);
		queue_writer_record(&w, QREC_RCPT, addr, strlen(addr));
	}
	queue_writer_content_begin(&w);
	queue_writer_content(&w, big, 40000);
	queue_writer_content_end(&w);
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	fd = open(path, O_RDWR);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.nrcpts, 1500);
	cr_assert_eq(m.nattrs, 1);
	cr_assert_eq(strlen(m.attr_values[0]), 40000 - 4);
	for (i = 0; i < 1500; i++) {
		snprintf(addr, sizeof(addr), "rcpt%04d@example.com", i);
		cr_assert_str_eq(m.rcpts[i].address, addr);
	}
	cr_assert_eq(m.content_len, 40000);
	/* Marks still land on the right records past the window. */
	cr_assert_eq(queue_rcpts_done(fd, &m.rcpts[1400], 1), 0);
	queue_message_free(&m);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < 1500; i++)
		cr_assert_eq(m.rcpts[i].done, i == 1400);
	queue_message_free(&m);
	/* Cuts in the records, in the content and just before END. */
	cr_assert_eq(fstat(fd, &st), 0);
	for (cut = st.st_size - 1; cut > 0; cut -= 997) {
		cr_assert_eq(ftruncate(fd, cut), 0);
		cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), -1,
		    "accepted a file cut at %lld", (long long)cut);
	}
	free(big);
	close(fd);
}

Test(queue, id_shape)
{
	char id[QUEUE_ID_MAX];

	queue_id_make(id, sizeof(id), 0x8A1C5, 0x200F3D);
	cr_assert_str_eq(id, "8A1C5200F3D");
	queue_id_make(id, sizeof(id), 1, 2);
	cr_assert_str_eq(id, "0000100002");
	cr_assert(queue_id_valid("8A1C5200F3D"));
	cr_assert(!queue_id_valid("8a1c5200f3d"));
	cr_assert(!queue_id_valid(".8A1C5200F3D"));
	cr_assert(!queue_id_valid("ABC"));
}

/* A delivery agent's batch mark: checked against the file, one sync. */
Test(queue, agent_marks_checked_recipients_done)
{
	struct queue_writer w;
	struct queue_message m;
	struct queue_rcpt want[2];
	char path[128], err[128], type;
	const char *body = "Subject: R\n\nRRRR DDDD\n";
	int fd;

	write_message(&w, body);
	cr_assert_eq(queue_writer_commit(&w), 0);
	snprintf(path, sizeof(path), "incoming/%s", w.id);
	cr_assert_geq(fd = open(path, O_RDWR), 0);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	memset(want, 0, sizeof(want));
	want[0].address = "carol@example.com";
	want[0].offset = m.rcpts[1].offset;
	/* Wrong address for the offset, an offset inside the content (an
	 * 'R' byte there), an offset past the end: nothing is written. */
	want[1].address = "mallory@example.com";
	want[1].offset = m.rcpts[0].offset;
	errno = 0;
	cr_assert_eq(queue_rcpts_done(fd, want, 2), -1);
	cr_assert_eq(errno, EINVAL);
	want[1].address = "bob@example.com";
	want[1].offset = m.content_offset + 9;
	cr_assert_eq(pread_full(fd, &type, 1, want[1].offset), 0);
	cr_assert_eq(type, 'R');
	cr_assert_eq(queue_rcpts_done(fd, want, 2), -1);
	want[1].offset = 1 << 20;
	cr_assert_eq(queue_rcpts_done(fd, want, 2), -1);
	want[1].offset = m.rcpts[0].offset - 1;
	cr_assert_eq(queue_rcpts_done(fd, want, 2), -1);
	queue_message_free(&m);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert(!m.rcpts[0].done && !m.rcpts[1].done, "a bad batch wrote");
	cr_assert_eq(pread_full(fd, &type, 1, m.content_offset + 9), 0);
	cr_assert_eq(type, 'R');
	/* Good ones, one already done: both DONE, file still whole. */
	want[1].offset = m.rcpts[0].offset;
	cr_assert_eq(queue_rcpt_done(fd, &m.rcpts[1]), 0);
	cr_assert_eq(queue_rcpts_done(fd, want, 2), 0);
	cr_assert_eq(queue_rcpts_done(fd, want, 0), 0);
	queue_message_free(&m);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert(m.rcpts[0].done && m.rcpts[1].done);
	cr_assert_eq(m.content_len, strlen(body));
	queue_message_free(&m);
	close(fd);
}

/* A one-slot pool in recycle/: put, take, and what take refuses. */
Test(queue, pool_reuses_a_finished_file_and_refuses_strangers)
{
	struct queue_pool pool;
	struct queue_writer w;
	struct queue_message m;
	struct stat st, big;
	char err[256], id[QUEUE_ID_MAX], *body;
	int fd, in, i;

	cr_assert_eq(mkdir("recycle", 0700), 0);
	cr_assert_eq(mkdir("trash", 0700), 0);
	cr_assert_eq(queue_pool_open(&pool, "recycle", 1), 0);
	in = open("incoming", O_RDONLY | O_DIRECTORY);
	cr_assert_geq(in, 0);

	/* A finished 20 KB message goes into the pool (slot s0). */
	body = malloc(20000);
	memset(body, 'x', 19999);
	body[19999] = '\0';
	write_message(&w, body);
	cr_assert_eq(queue_writer_commit(&w), 0);
	strlcpy(id, w.id, sizeof(id));
	cr_assert_eq(stat("incoming", &st), 0);
	cr_assert_eq(chdir("incoming"), 0);
	cr_assert_eq(stat(id, &big), 0);
	cr_assert_eq(chmod(id, 0640), 0);	/* a delay-notice bit */
	cr_assert_eq(chdir(".."), 0);
	/* Over QUEUE_POOL_FILE_MAX: refused, left for the caller to unlink. */
	body = realloc(body, QUEUE_POOL_FILE_MAX + 2);
	memset(body, 'y', QUEUE_POOL_FILE_MAX + 1);
	body[QUEUE_POOL_FILE_MAX + 1] = '\0';
	write_message(&w, body);
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(queue_pool_put(&pool, in, w.id), -1);
	cr_assert_eq(fstatat(in, w.id, &st, 0), 0);
	cr_assert_gt(st.st_size, QUEUE_POOL_FILE_MAX);
	cr_assert_eq(access("recycle/s0", F_OK), -1);
	/* At the limit's other side, the 20 KB file goes in (slot s0). */
	cr_assert_eq(queue_pool_put(&pool, in, id), 0);
	cr_assert_eq(access("recycle/s0", F_OK), 0);
	/* The slot is full: the next file is not taken. */
	write_message(&w, "second\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(queue_pool_put(&pool, in, w.id), -1);
	cr_assert_eq(errno, EEXIST);

	/* A small message written into it: same inode, no old bytes. */
	cr_assert_eq(queue_writer_open_pool(&w, "incoming", &pool), 0);
	cr_assert_eq(w.reused_size, big.st_size);
	queue_writer_record(&w, QREC_SENDER, "", 0);
	queue_writer_record(&w, QREC_RCPT, "bob@example.com", 15);
	queue_writer_content_begin(&w);
	queue_writer_content(&w, "short\n", 6);
	queue_writer_content_end(&w);
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(access("recycle/s0", F_OK), -1);
	cr_assert_eq(chdir("incoming"), 0);
	cr_assert_eq(stat(w.id, &st), 0);
	cr_assert_eq(st.st_ino, big.st_ino);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_lt(st.st_size, 200);
	fd = open(w.id, O_RDONLY);
	cr_assert_eq(queue_file_read(fd, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.content_len, 6);
	cr_assert_eq(m.nrcpts, 1);
	queue_message_free(&m);
	close(fd);
	cr_assert_eq(chdir(".."), 0);

	/* A second name, a symlink, a directory: dropped, never opened. */
	for (i = 0; i < 3; i++) {
		if (i == 0) {
			cr_assert_eq(chdir("incoming"), 0);
			cr_assert_eq(link(w.id, "../recycle/s0"), 0);
			cr_assert_eq(chdir(".."), 0);
		} else if (i == 1)
			cr_assert_eq(symlink("/etc/passwd", "recycle/s0"), 0);
		else
			cr_assert_eq(mkdir("recycle/s0", 0700), 0);
		cr_assert_eq(queue_writer_open_pool(&w, "incoming", &pool), 0);
		cr_assert_eq(w.reused_size, -1, "case %d reused", i);
		queue_writer_abort(&w);
		if (i == 2)
			cr_assert_eq(rmdir("recycle/s0"), 0);
		else
			cr_assert_eq(access("recycle/s0", F_OK), -1);
	}
	cr_assert_eq(chdir("incoming"), 0);
	cr_assert_eq(stat(w.id, &st), -1);	/* aborted: gone */
	cr_assert_eq(chdir(".."), 0);
	free(body);
	close(in);
	queue_pool_close(&pool);
}

/*
 * Sixteen slots: every free slot is found and filled before a put fails,
 * every filled one is taken once, and slots another process emptied or
 * filled after a scan are passed over, not fatal.
 */
Test(queue, pool_finds_every_slot_and_skips_those_taken_by_others)
{
	struct queue_pool putter, taker;
	struct queue_writer w;
	struct dirent *de;
	struct stat st;
	ino_t seen[16];
	DIR *d;
	char name[32];
	int in, i, j, fd;

	cr_assert_eq(mkdir("recycle", 0700), 0);
	cr_assert_eq(queue_pool_open(&putter, "recycle", 16), 0);
	cr_assert_eq(queue_pool_open(&taker, "recycle", 16), 0);
	putter.miss_ms = taker.miss_ms = 0;	/* the next test has the pause */
	in = open("incoming", O_RDONLY | O_DIRECTORY);
	cr_assert_geq(in, 0);
	for (i = 0; i < 16; i++) {
		write_message(&w, "body\n");
		cr_assert_eq(queue_writer_commit(&w), 0);
		cr_assert_eq(queue_pool_put(&putter, in, w.id), 0, "put %d", i);
	}
	for (i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "recycle/s%d", i);
		cr_assert_eq(access(name, F_OK), 0, "slot %d empty", i);
	}
	write_message(&w, "body\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(queue_pool_put(&putter, in, w.id), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(unlinkat(in, w.id, 0), 0);

	/* Another process empties s3 and s7 after our scan. */
	fd = queue_pool_take(&taker, in, "first", &st);
	cr_assert_geq(fd, 0);
	close(fd);
	seen[0] = st.st_ino;
	cr_assert_eq(rename("recycle/s3", "incoming/other3") == 0 ||
	    rename("recycle/s4", "incoming/other3") == 0, 1);
	cr_assert_eq(rename("recycle/s7", "incoming/other7") == 0 ||
	    rename("recycle/s8", "incoming/other7") == 0, 1);
	for (i = 1; i < 14; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		fd = queue_pool_take(&taker, in, name, &st);
		cr_assert_geq(fd, 0, "take %d", i);
		close(fd);
		for (j = 0; j < i; j++)
			cr_assert_neq(seen[j], st.st_ino, "a file taken twice");
		seen[i] = st.st_ino;
	}
	cr_assert_eq(queue_pool_take(&taker, in, "none", &st), -1);
	/* The putter's list says full; its next put reads the slots again. */
	cr_assert_eq(queue_pool_put(&putter, in, "t1"), 0);
	fd = queue_pool_take(&taker, in, "again", &st);
	cr_assert_geq(fd, 0);
	cr_assert_eq(st.st_ino, seen[1]);
	close(fd);
	/*
	 * The taker's list holds only slots emptied behind its back, and a
	 * new file has come: the same call reads the directory again.
	 */
	cr_assert_eq(queue_pool_put(&putter, in, "t2"), 0);
	cr_assert_eq(queue_pool_put(&putter, in, "t3"), 0);
	fd = queue_pool_take(&taker, in, "x1", &st);
	cr_assert_geq(fd, 0);
	close(fd);
	d = opendir("recycle");
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == 's')
			cr_assert_eq(renameat(dirfd(d), de->d_name, in, "gone"),
			    0);
	closedir(d);
	cr_assert_eq(stat("incoming/t4", &st), 0);
	seen[0] = st.st_ino;
	cr_assert_eq(queue_pool_put(&putter, in, "t4"), 0);
	fd = queue_pool_take(&taker, in, "x2", &st);
	cr_assert_geq(fd, 0, "a stale list ended the take without a new read");
	cr_assert_eq(st.st_ino, seen[0]);
	close(fd);
	close(in);
	queue_pool_close(&putter);
	queue_pool_close(&taker);
}

/*
 * A read of the slots that finds none is not repeated for miss_ms: an
 * empty pool under a backlog costs one getdents per pause, not one per
 * message. After the pause the directory is read again.
 */
Test(queue, pool_pauses_its_reads_after_one_that_found_nothing)
{
	struct queue_pool putter, taker;
	struct queue_writer w;
	struct stat st;
	int in, fd;

	cr_assert_eq(mkdir("recycle", 0700), 0);
	cr_assert_eq(queue_pool_open(&putter, "recycle", 1), 0);
	cr_assert_eq(queue_pool_open(&taker, "recycle", 1), 0);
	cr_assert_eq(taker.miss_ms, QUEUE_POOL_MISS_MS);
	putter.miss_ms = taker.miss_ms = 300;
	in = open("incoming", O_RDONLY | O_DIRECTORY);
	cr_assert_geq(in, 0);
	/* Empty: the taker finds nothing and stops reading for a while. */
	cr_assert_eq(queue_pool_take(&taker, in, "none", &st), -1);
	write_message(&w, "body\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(queue_pool_put(&putter, in, w.id), 0);
	cr_assert_eq(queue_pool_take(&taker, in, "soon", &st), -1,
	    "read the slots again within miss_ms");
	cr_assert_eq(access("recycle/s0", F_OK), 0);
	/* Full: the putter's next put reads once, finds none, then pauses. */
	write_message(&w, "second\n");
	cr_assert_eq(queue_writer_commit(&w), 0);
	cr_assert_eq(queue_pool_put(&putter, in, w.id), -1);
	cr_assert_eq(rename("recycle/s0", "incoming/emptied"), 0);
	cr_assert_eq(queue_pool_put(&putter, in, w.id), -1,
	    "read the slots again within miss_ms");
	usleep(350 * 1000);
	cr_assert_eq(queue_pool_put(&putter, in, w.id), 0);
	fd = queue_pool_take(&taker, in, "later", &st);
	cr_assert_geq(fd, 0, "no read after the pause");
	close(fd);
	close(in);
	queue_pool_close(&putter);
	queue_pool_close(&taker);
}
