# netgwm from cron: one cycle every minute, for systems that do not run netgwm.service.
# Choose one of the two: the lock makes running both harmless, but pointless.
# To use it, remove the "#" in front of the line below (and keep the service disabled).
# Anything netgwm prints is a problem, which cron mails to root.
SHELL=/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin

#* * * * *	root	[ -x /usr/bin/netgwm ] && netgwm run
