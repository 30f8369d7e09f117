#include "io/xlsx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "io/csv.h"
#include "util/buf.h"
#include "util/date.h"

#define WIDTH_MIN 8
#define WIDTH_MAX 60
#define CELL_MAX 32767
#define ROWS_MAX 1048576
#define EXACT_MAX (1LL << 53)

struct formats {
	lxw_format *header, *date, *datetime;
};

/* A calendar date YYYY-MM-DD, as ctms writes them. */
static bool as_date(const char *s, lxw_datetime *dt)
{
	int32_t days;
	unsigned m, d;

	if (strlen(s) != 10 || date_parse(s, &days))
		return false;
	civil_from_days(days, &dt->year, &m, &d);
	dt->month = (int)m;
	dt->day = (int)d;
	dt->hour = dt->min = 0;
	dt->sec = 0;
	return true;
}

/* A UTC timestamp YYYY-MM-DDThh:mm:ss[.ffffff]Z, as ctms writes them. */
static bool as_timestamp(const char *s, lxw_datetime *dt)
{
	int64_t us, in_day;
	char day[DATE_LEN];
	size_t len = strlen(s);

	if (len < 20 || s[10] != 'T' || s[len - 1] != 'Z' || timestamp_parse(s, &us))
		return false;
	memcpy(day, s, 10);
	day[10] = '\0';
	if (!as_date(day, dt))
		return false;
	in_day = us - (int64_t)day_of_us(us) * 86400LL * 1000000;
	dt->hour = (int)(in_day / 3600000000LL);
	dt->min = (int)(in_day / 60000000LL % 60);
	dt->sec = (double)(in_day % 60000000LL) / 1e6;
	return true;
}

/* Characters of a UTF-8 text: what a column's width is counted in. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Writes one cell; *width receives the characters it shows. */
static lxw_error put_cell(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const json_t *v,
			  const struct formats *f, size_t *width)
{
	lxw_datetime dt;
	const char *s;
	char num[32];

	*width = 0;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		*width = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		if (json_integer_value(v) > EXACT_MAX || json_integer_value(v) < -EXACT_MAX)
			return worksheet_write_string(ws, row, col, num, NULL);
		return worksheet_write_number(ws, row, col, (double)json_integer_value(v), NULL);
	case JSON_REAL:
		*width = (size_t)snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		return worksheet_write_number(ws, row, col, json_real_value(v), NULL);
	case JSON_TRUE:
	case JSON_FALSE:
		*width = 5;
		return worksheet_write_boolean(ws, row, col, json_is_true(v), NULL);
	case JSON_STRING:
		s = json_string_value(v);
		if (as_date(s, &dt)) {
			*width = 10;
			return worksheet_write_datetime(ws, row, col, &dt, f->date);
		}
		if (as_timestamp(s, &dt)) {
			*width = 19;
			return worksheet_write_datetime(ws, row, col, &dt, f->datetime);
		}
		if (!*s)
			return LXW_NO_ERROR;
		*width = text_width(s);
		if (*width > CELL_MAX)
			return LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED;
		return worksheet_write_string(ws, row, col, s, NULL);
	default:
		return LXW_NO_ERROR;
	}
}

static void widen(size_t *widths, size_t col, size_t width)
{
	if (width > widths[col])
		widths[col] = width;
}

static lxw_error fill_sheet(lxw_worksheet *ws, const struct export_table *t, const struct formats *f)
{
	size_t ncols = json_array_size(t->columns), nrows = json_array_size(t->rows), i, j;
	size_t *widths = xcalloc(ncols ? ncols : 1, sizeof(*widths)), width;
	json_t *row, *v;
	lxw_error rc = LXW_NO_ERROR;

	json_array_foreach(t->columns, j, v) {
		rc = worksheet_write_string(ws, 0, (lxw_col_t)j, json_string_value(v), f->header);
		widen(widths, j, text_width(json_string_value(v)) + 2); /* room for the filter button */
	}
	json_array_foreach(t->rows, i, row) {
		json_array_foreach(row, j, v) {
			if (rc || j >= ncols)
				break;
			rc = put_cell(ws, (lxw_row_t)(i + 1), (lxw_col_t)j, v, f, &width);
			widen(widths, j, width);
		}
	}
	for (j = 0; j < ncols && !rc; j++) {
		double w = (double)(widths[j] < WIDTH_MIN ? WIDTH_MIN : widths[j] > WIDTH_MAX ? WIDTH_MAX
											  : widths[j]);
		rc = worksheet_set_column(ws, (lxw_col_t)j, (lxw_col_t)j, w + 1, NULL);
	}
	worksheet_freeze_panes(ws, 1, 0);
	if (!rc && ncols)
		rc = worksheet_autofilter(ws, 0, 0, (lxw_row_t)nrows, (lxw_col_t)(ncols - 1));
	free(widths);
	return rc;
}

static void sheet_name(const char *sheet, char out[32])
{
	size_t n = 0;

	for (; sheet && *sheet && n < 31; sheet++)
		out[n++] = strchr("[]:*?/\\'", *sheet) || (unsigned char)*sheet >= 0x80 ? '_' : *sheet;
	out[n] = '\0';
	if (!n)
		snprintf(out, 32, "Sheet1");
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *file = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (!file)
		return CTMS_EIO;
	buf_init(&b, (size_t)1 << 31);
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), file)) > 0)
		rc = buf_add(&b, chunk, n);
	if (ferror(file))
		rc = CTMS_EIO;
	fclose(file);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	*len = b.len;
	*out = buf_detach(&b);
	return 0;
}

int xlsx_write(const struct export_table *t, const char *sheet, char **out, size_t *len,
	       struct err *e)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	lxw_workbook_options options = {.tmpdir = (char *)dir};
	struct formats f;
	lxw_workbook *book;
	lxw_worksheet *ws;
	lxw_error lrc = LXW_NO_ERROR;
	char name[32], path[4096];
	int fd, rc;

	*out = NULL;
	*len = 0;
	if (json_array_size(t->rows) >= ROWS_MAX)
		return err_set(e, CTMS_ETOOBIG, "a worksheet holds at most %d rows", ROWS_MAX - 1);
	if ((size_t)snprintf(path, sizeof(path), "%s/ctms-export-XXXXXX", dir) >= sizeof(path) ||
	    (fd = mkstemp(path)) < 0)
		return err_set(e, CTMS_EIO, "cannot create a temporary file in %s: %s", dir,
			       strerror(errno));
	close(fd);
	sheet_name(sheet, name);
	book = workbook_new_opt(path, &options);
	if (!book) {
		unlink(path);
		return err_set(e, CTMS_EIO, "cannot start a workbook");
	}
	f.header = workbook_add_format(book);
	format_set_bold(f.header);
	f.date = workbook_add_format(book);
	format_set_num_format(f.date, "yyyy-mm-dd");
	f.datetime = workbook_add_format(book);
	format_set_num_format(f.datetime, "yyyy-mm-dd hh:mm:ss");
	ws = workbook_add_worksheet(book, name);
	lrc = ws ? fill_sheet(ws, t, &f) : LXW_ERROR_MEMORY_MALLOC_FAILED;
	if (workbook_close(book) && !lrc)
		lrc = LXW_ERROR_CREATING_XLSX_FILE;
	if (lrc == LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED)
		rc = err_set(e, CTMS_ETOOBIG, "a cell holds more than Excel's %d characters", CELL_MAX);
	else if (lrc)
		rc = err_set(e, CTMS_EIO, "cannot write the workbook: %s", lxw_strerror(lrc));
	else if ((rc = read_file(path, out, len)))
		err_set(e, rc, "cannot read the workbook back");
	unlink(path);
	return rc;
}
