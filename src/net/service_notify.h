/*
 * service_notify: tells the service manager (systemd, Type=notify) what
 * `postino serve` is doing: ready once every listener is bound and the
 * queue is loaded, reloading around a SIGHUP, stopping at SIGTERM. Speaks
 * through libsystemd's sd_notify(3), which finds $NOTIFY_SOCKET (a path or
 * an abstract socket) and sends one datagram; without $NOTIFY_SOCKET every
 * call is a no-op. Never blocks the loop, never fails the server: a lost
 * notification is logged at most once.
 */
#ifndef POSTINO_SERVICE_NOTIFY_H
#define POSTINO_SERVICE_NOTIFY_H

/* READY=1 with a STATUS= line (status may be NULL). */
void service_notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, which newer managers expect): a reload begins. */
void service_notify_reloading(void);
/* STOPPING=1: shutdown begins. */
void service_notify_stopping(void);

#endif
