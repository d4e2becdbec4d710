# cython: language_level=3
# C types for compiling dispatch_py.py as dispatch_c (see setup.py). The .py stays the spec.

cdef object _get_running_loop
cdef object _bare_yield
cdef object _PROXY_CALL, _PROXY_GET, _PROXY_SET, _TRACED
cdef object _NO_ITEMS

cdef class _Empty:
    pass

cdef class Mailbox:
    cdef public object capacity
    cdef Py_ssize_t _limit
    cdef object _items
    cdef object _getters
    cdef object _putters
    cdef public bint _closed
    cdef bint _receive_closed
    cdef public object _dormant

    cpdef bint _has_room(self)
    cpdef _admit_waiting(self)
    cpdef bint offer(self, object item) except -1
    cpdef bint force(self, object item, bint control=*) except -1
    cpdef object poll(self)
    cpdef _rouse(self)


cdef class PriorityMailbox(Mailbox):
    cdef object _priority
    cdef bint _control_first
    cdef object _types
    cdef object _predicate
    cdef object _urgent
    cdef object _urgent_putters
    cdef object _refused
    cdef bint _refused_urgent

    cpdef bint _classify(self, object message) except -1
    cpdef bint _has_room(self)
    cpdef _admit_waiting(self)
    cpdef bint offer(self, object item) except -1
    cpdef bint force(self, object item, bint control=*) except -1
    cpdef object poll(self)


cdef class ActorCell:
    cdef public object host
    cdef public object rid
    cdef public object address
    cdef public object name
    cdef public object factory
    cdef public Mailbox mailbox
    cdef public object policy
    cdef public object parent
    cdef public object actor
    cdef public str actor_type
    cdef public object children
    cdef public object watchers
    cdef public object restart_times
    cdef public object escalations
    cdef public bint alive
    cdef public bint stopping
    cdef public bint restarting
    cdef public bint abort
    cdef public bint attention
    cdef public bint accepting
    cdef public bint terminated
    cdef public object task
    cdef public object context
    cdef public Py_ssize_t processed

    cpdef bint offer(self, object message, object reply) except -1
    cpdef bint _offer_stop(self, object item) except -1
    cpdef stop_accepted(self)
    cpdef object request(self, object message)
    cpdef object reply_future(self)


cpdef bint _wake_first(object waiters, object value)
cpdef object current_task()
