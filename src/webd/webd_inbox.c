/*
 * webd_inbox: the inbox page and deleting to Trash (see webd_int.h).
 * (being written)
 */
#include "webd/webd_int.h"

void webd_inbox(struct webd_req *r)
{
    webd_send_error(r, 501, "Not Implemented", "The inbox is not written yet.");
}

void webd_msg_delete(struct webd_req *r)
{
    webd_send_error(r, 501, "Not Implemented", "Delete is not written yet.");
}
