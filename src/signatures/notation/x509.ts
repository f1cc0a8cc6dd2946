// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata polyfill
// loaded first; every notation module imports the library through here so that order always holds.
import 'reflect-metadata';

export * from '@peculiar/x509';
