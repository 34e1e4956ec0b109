# lib/tls: TLS on top of iobuf (OpenSSL 3). tls_client: STARTTLS for the smtp transport.
lib_libpostilion_a_SOURCES += lib/tls/tls_client.c lib/tls/tls_client.h
