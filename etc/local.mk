# Sample configuration, installed to $(sysconfdir)/postilion.
dist_postilionconf_DATA += etc/main.cf etc/master.cf
