/* Marks the symbols libdmaheap exports; everything else in the library is hidden. */
#ifndef DMAHEAP_EXPORT_H_
#define DMAHEAP_EXPORT_H_
#define DMAHEAP_API __attribute__((visibility("default")))
#endif
