/*
 * java_sites.c: who called a hooked Java method, cheaply. Compiled in the target by Frida's
 * CModule (TinyCC), used by javahooks.js on JVMs that offer JVMTI.
 *
 * JVMTI GetStackTrace gives the calling thread's frames as (method, bytecode location)
 * pairs without building a single Java object; the whole sequence is the key of a stack
 * id, so two events share an id only when every frame, method and location, is the same.
 * The agent computes the frames' text (Thread.getStackTrace) once per id. Thread names
 * (JVMTI GetThreadInfo, modified UTF-8) are interned the same way, byte for byte.
 *
 * Only the agent's JavaScript calls in here, under its lock. CModule data is not writable:
 * the state and the key buffer are memory the agent allocates (lab_sites, lab_sites_key).
 * Tables are capped (count, and bytes for stacks); past a cap an id of 0 tells the agent to
 * identify the value the slow way.
 */
#include <glib.h>
#include <string.h>

#define LAB_MAX_FRAMES 1024
#define LAB_MAX_STACKS 16384
#define LAB_MAX_STACK_BYTES (8 * 1024 * 1024)  /* keys' memory */
#define LAB_MAX_THREADS 4096
#define LAB_JNI_VERSION_1_6 0x00010006
#define LAB_JVMTI_VERSION_1_2 0x30010200

typedef struct _LabFrame LabFrame;
struct _LabFrame {
  void * method;
  gint64 location;
};

typedef struct _LabThreadInfo LabThreadInfo;
struct _LabThreadInfo {
  char * name;
  gint32 priority;
  guint8 is_daemon;
  void * thread_group;
  void * context_class_loader;
};

typedef int (*LabGetEnv) (void * vm, void ** env, int version);
typedef int (*LabGetStackTrace) (void * jvmti, void * thread, int start, int max, LabFrame * frames,
    int * count);
typedef int (*LabGetThreadInfo) (void * jvmti, void * thread, LabThreadInfo * info);
typedef int (*LabDeallocate) (void * jvmti, void * mem);
typedef int (*LabDispose) (void * jvmti);
typedef void (*LabDeleteLocalRef) (void * env, void * ref);

/* A stack: its frames and their hash (the table's key). */
typedef struct _LabStack LabStack;
struct _LabStack {
  guint hash;
  guint count;
  LabFrame frames[];
};

typedef struct _LabSites LabSites;
struct _LabSites {
  void * vm;             /* JavaVM* */
  void * jvmti;          /* our JVMTI environment, NULL when closed */
  GHashTable * stacks;   /* LabStack -> id */
  GHashTable * threads;  /* name -> id */
  GPtrArray * names;     /* id -> name (index 0 unused) */
  gsize stack_bytes;     /* memory held by the stacks' keys */
};

extern LabSites lab_sites;
extern LabStack lab_sites_key;  /* room for LAB_MAX_FRAMES frames */

#define lab_vm lab_sites.vm
#define lab_jvmti lab_sites.jvmti
#define lab_stacks lab_sites.stacks
#define lab_threads lab_sites.threads
#define lab_names lab_sites.names

static guint
lab_stack_hash (gconstpointer key)
{
  return ((const LabStack *) key)->hash;
}

static gboolean
lab_stack_equal (gconstpointer a, gconstpointer b)
{
  const LabStack * x = a;
  const LabStack * y = b;
  guint i;
  if (x->hash != y->hash || x->count != y->count)
    return FALSE;
  for (i = 0; i != x->count; i++)
  {
    if (x->frames[i].method != y->frames[i].method || x->frames[i].location != y->frames[i].location)
      return FALSE;
  }
  return TRUE;
}

static void *
lab_fn (void * iface, guint slot)
{
  return (*(void ***) iface)[slot];
}

/* Open a JVMTI environment on `vm` (JavaVM*); 0 when there is one, else the GetEnv error. */
int
lab_sites_open (void * vm)
{
  int status;
  memset (&lab_sites, 0, sizeof (lab_sites));
  lab_vm = vm;
  status = ((LabGetEnv) lab_fn (vm, 6)) (vm, &lab_jvmti, LAB_JVMTI_VERSION_1_2);
  if (status != 0)
  {
    lab_jvmti = NULL;
    return status;
  }
  lab_stacks = g_hash_table_new_full (lab_stack_hash, lab_stack_equal, g_free, NULL);
  lab_threads = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  lab_names = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (lab_names, NULL);
  return 0;
}

void
lab_sites_close (void)
{
  if (lab_jvmti == NULL)
    return;
  ((LabDispose) lab_fn (lab_jvmti, 126)) (lab_jvmti);
  lab_jvmti = NULL;
  g_hash_table_unref (lab_stacks);
  g_hash_table_unref (lab_threads);
  g_ptr_array_unref (lab_names);
}

static guint
lab_stack_id (void)
{
  LabStack * key = &lab_sites_key;
  const guint8 * bytes;
  gsize size, i;
  guint hash = 2166136261u;
  int count = 0;
  gpointer found, copy;
  guint id;

  if (((LabGetStackTrace) lab_fn (lab_jvmti, 103)) (lab_jvmti, NULL, 0, LAB_MAX_FRAMES, key->frames,
      &count) != 0)
    return 0;
  size = (gsize) count * sizeof (LabFrame);
  bytes = (const guint8 *) key->frames;
  for (i = 0; i != size; i++)
    hash = (hash ^ bytes[i]) * 16777619u;
  key->hash = hash;
  key->count = (guint) count;
  found = g_hash_table_lookup (lab_stacks, key);
  if (found != NULL)
    return GPOINTER_TO_UINT (found);
  id = g_hash_table_size (lab_stacks) + 1;
  if (id > LAB_MAX_STACKS || lab_sites.stack_bytes + sizeof (LabStack) + size > LAB_MAX_STACK_BYTES)
    return 0;
  lab_sites.stack_bytes += sizeof (LabStack) + size;
  copy = g_malloc (sizeof (LabStack) + size);
  memcpy (copy, key, sizeof (LabStack) + size);
  g_hash_table_insert (lab_stacks, copy, GUINT_TO_POINTER (id));
  return id;
}

static guint
lab_thread_id (void)
{
  LabThreadInfo info;
  void * env = NULL;
  gpointer found;
  guint id = 0;

  memset (&info, 0, sizeof (info));
  if (((LabGetThreadInfo) lab_fn (lab_jvmti, 8)) (lab_jvmti, NULL, &info) != 0)
    return 0;
  if (((LabGetEnv) lab_fn (lab_vm, 6)) (lab_vm, &env, LAB_JNI_VERSION_1_6) == 0)
  {
    if (info.thread_group != NULL)
      ((LabDeleteLocalRef) lab_fn (env, 23)) (env, info.thread_group);
    if (info.context_class_loader != NULL)
      ((LabDeleteLocalRef) lab_fn (env, 23)) (env, info.context_class_loader);
  }
  if (info.name == NULL)
    return 0;
  found = g_hash_table_lookup (lab_threads, info.name);
  if (found != NULL)
  {
    id = GPOINTER_TO_UINT (found);
  }
  else if (lab_names->len <= LAB_MAX_THREADS)
  {
    char * copy = g_strdup (info.name);
    id = lab_names->len;
    g_ptr_array_add (lab_names, copy);
    g_hash_table_insert (lab_threads, copy, GUINT_TO_POINTER (id));
  }
  ((LabDeallocate) lab_fn (lab_jvmti, 46)) (lab_jvmti, info.name);
  return id;
}

/*
 * The calling thread's ids, packed into one number (a double, so JavaScript gets a plain
 * number): thread id * 2^24 + stack id. Stack id 0 when `with_stack` is 0 or past the cap;
 * thread id 0 past the cap; -1 without JVMTI.
 */
double
lab_sites_take (int with_stack)
{
  guint stack = 0;
  if (lab_jvmti == NULL)
    return -1.0;
  if (with_stack)
    stack = lab_stack_id ();
  return (double) lab_thread_id () * 16777216.0 + (double) stack;
}

/* The interned name of a thread id (modified UTF-8), NULL for an unknown id. */
const char *
lab_sites_thread_name (guint id)
{
  if (lab_jvmti == NULL || id == 0 || id >= lab_names->len)
    return NULL;
  return g_ptr_array_index (lab_names, id);
}
