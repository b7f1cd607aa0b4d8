/*
 * network_fast.c: the hot path of network.js's libc connect() hook, compiled in the target
 * by Frida's CModule (TinyCC). Non-Java threads append a fixed 32-byte record to a ring that
 * the agent drains every few milliseconds and sends as binary data; a full ring counts drops.
 * Java threads (attached to the JVM) go to the JavaScript callback, which adds the Java stack.
 */
#include <glib.h>
#include <gum/guminterceptor.h>
#include <string.h>

typedef struct _LabRecord LabRecord;
struct _LabRecord {
  gint64 ts_us;      /* wall clock, microseconds */
  guint32 tid;
  guint16 family;    /* 2 = AF_INET, 10 = AF_INET6 */
  guint16 port;      /* host byte order */
  guint8 addr[16];
};

typedef int (*LabGetEnv) (void * vm, void ** env, int version);

extern GMutex lab_lock;
extern LabRecord lab_ring[];
extern guint64 lab_state[5]; /* head, tail, dropped, capacity, enabled */
extern void * lab_java_vm;   /* JavaVM*, NULL without a Java runtime */
extern void lab_on_java_connect (void * sockaddr);

static int
is_java_thread (void)
{
  void ** vtable;
  void * env = NULL;
  if (lab_java_vm == NULL)
    return 0;
  vtable = *(void ***) lab_java_vm;
  return ((LabGetEnv) vtable[6]) (lab_java_vm, &env, 0x00010006) == 0;
}

void
onEnter (GumInvocationContext * ic)
{
  const guint8 * sa = gum_invocation_context_get_nth_argument (ic, 1);
  guint16 family;
  LabRecord * r;
  guint64 head;

  if (sa == NULL || lab_state[4] == 0)
    return;
  family = *(const guint16 *) sa;
  if (family != 2 && family != 10)
    return;
  if (is_java_thread ())
  {
    lab_on_java_connect ((void *) sa);
    return;
  }

  g_mutex_lock (&lab_lock);
  head = lab_state[0];
  if (head - lab_state[1] >= lab_state[3])
  {
    lab_state[2]++;
    g_mutex_unlock (&lab_lock);
    return;
  }
  r = &lab_ring[head % lab_state[3]];
  r->ts_us = g_get_real_time ();
  r->tid = (guint32) gum_invocation_context_get_thread_id (ic);
  r->family = family;
  r->port = (guint16) ((sa[2] << 8) | sa[3]);
  if (family == 2)
  {
    memset (r->addr, 0, 16);
    memcpy (r->addr, sa + 4, 4);
  }
  else
  {
    memcpy (r->addr, sa + 8, 16);
  }
  lab_state[0] = head + 1;
  g_mutex_unlock (&lab_lock);
}

/* Copy up to `max` records to `out`, oldest first; returns how many. */
guint
lab_take (LabRecord * out, guint max)
{
  guint n = 0;
  g_mutex_lock (&lab_lock);
  while (lab_state[1] < lab_state[0] && n < max)
  {
    out[n++] = lab_ring[lab_state[1] % lab_state[3]];
    lab_state[1]++;
  }
  g_mutex_unlock (&lab_lock);
  return n;
}

/* Drops since the last call. */
guint64
lab_take_dropped (void)
{
  guint64 d;
  g_mutex_lock (&lab_lock);
  d = lab_state[2];
  lab_state[2] = 0;
  g_mutex_unlock (&lab_lock);
  return d;
}
