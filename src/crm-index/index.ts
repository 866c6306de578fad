/** The CRM phone index: who a caller is in the CRM and who is responsible for them, per portal. */
export {
  CrmPhoneIndex,
  defaultCrmIndexSettings,
  learnFrom,
  primaryMatch,
  type CrmIndexApi,
  type CrmIndexEvents,
  type CrmIndexOptions,
  type CrmIndexSettings,
  type CrmRecordType,
} from './crm-index.ts';
export { phoneKey } from './phone.ts';
