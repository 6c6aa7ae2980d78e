/* swarm-log.c: the GLog writer of the command line */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "swarm-log.h"

/* Read from whichever thread logs, written once by main() after parsing. */
static gint log_json_mode;

/* Returns the name of the most severe level in `log_level`, as JSON and text
 * lines show it. */
static const char *
level_to_string (GLogLevelFlags log_level)
{
  if (log_level & G_LOG_LEVEL_ERROR)
    return "error";
  if (log_level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (log_level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (log_level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (log_level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

/* Returns a copy of a field's value, which is NUL-terminated only when its
 * length is -1. */
static char *
field_dup_value (const GLogField *field)
{
  if (field->length < 0)
    return g_strdup (field->value);

  return g_strndup (field->value, field->length);
}

static char *
format_json_line (GLogLevelFlags  log_level,
                  const char     *domain,
                  const char     *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *time = g_date_time_format_iso8601 (now);
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "time");
  json_builder_add_string_value (builder, time);
  json_builder_set_member_name (builder, "level");
  json_builder_add_string_value (builder, level_to_string (log_level));
  json_builder_set_member_name (builder, "domain");
  if (domain != NULL)
    json_builder_add_string_value (builder, domain);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);

  return g_strconcat (json, "\n", NULL);
}

static char *
format_text_line (GLogLevelFlags  log_level,
                  const char     *domain,
                  const char     *message)
{
  /* Ordinary messages stay short.  The level is shown only where it changes
   * what the reader should do. */
  if (log_level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    return g_strdup_printf ("swarm-proxy[%s]: %s\n", domain ? domain : "?", message);

  return g_strdup_printf ("swarm-proxy[%s]: %s: %s\n",
                          domain ? domain : "?", level_to_string (log_level), message);
}

static GLogWriterOutput
swarm_log_writer_cb (GLogLevelFlags   log_level,
                     const GLogField *fields,
                     gsize            n_fields,
                     gpointer         user_data)
{
  g_autofree char *domain = NULL;
  g_autofree char *message = NULL;
  g_autofree char *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0 && domain == NULL)
        domain = field_dup_value (&fields[i]);
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && message == NULL)
        message = field_dup_value (&fields[i]);
    }

  /* Applies G_MESSAGES_DEBUG the way GLib's own writer does: debug and info
   * lines appear only for the domains it names. */
  if (g_log_writer_default_would_drop (log_level, domain))
    return G_LOG_WRITER_HANDLED;

  if (message == NULL)
    message = g_strdup ("");

  if (g_atomic_int_get (&log_json_mode))
    line = format_json_line (log_level, domain, message);
  else
    line = format_text_line (log_level, domain, message);

  /* One fwrite per line, so that lines from several threads do not
   * interleave inside each other. */
  fwrite (line, 1, strlen (line), stderr);
  fflush (stderr);

  return G_LOG_WRITER_HANDLED;
}

void
swarm_log_init (void)
{
  g_log_set_writer_func (swarm_log_writer_cb, NULL, NULL);
}

void
swarm_log_set_json (gboolean json)
{
  g_atomic_int_set (&log_json_mode, json ? 1 : 0);
}

gboolean
swarm_log_get_json (void)
{
  return g_atomic_int_get (&log_json_mode) != 0;
}
